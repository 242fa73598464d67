//===- chat_template_test.cpp - chat families against jinja2 renderings ---===//
//
// data/chat_template_cases.json: verbatim model chat templates rendered by
// jinja2 (as transformers renders them: trim_blocks, lstrip_blocks) over a few
// conversations, or the exception the template raises; made by
// make_fixtures.py.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/ChatTemplate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace llmc::tokenizer;
using Json = nlohmann::json;
using ::testing::HasSubstr;

namespace {
Json loadCases() {
  std::ifstream file(std::string(LLMC_TOKENIZER_TEST_DATA) +
                     "/chat_template_cases.json");
  return Json::parse(file);
}
} // namespace

// Every (template, conversation, add_generation_prompt) case renders exactly
// as jinja2 renders the real template, and fails where the template raises.
TEST(ChatTemplate, MatchesJinjaRenderings) {
  Json cases = loadCases();
  ASSERT_GT(cases.size(), 50u);
  std::set<std::string> templatesSeen;
  for (const Json &entry : cases) {
    std::string name = entry["template_name"];
    SCOPED_TRACE(name + " / " + entry["conversation"].get<std::string>() +
                 (entry["add_generation_prompt"].get<bool>() ? " / gen" : ""));
    templatesSeen.insert(name);
    ChatTemplate chat;
    Status status = ChatTemplate::detect(entry["template"], chat);
    ASSERT_TRUE(status.ok()) << status.message();
    std::vector<ChatMessage> messages;
    for (const Json &message : entry["messages"])
      messages.push_back({message["role"], message["content"]});
    std::string prompt;
    status = chat.render(messages, entry["add_generation_prompt"],
                         entry["bos_token"], entry["eos_token"], prompt);
    if (entry.contains("error")) {
      EXPECT_FALSE(status.ok()) << "jinja2 raised: " << entry["error"];
    } else {
      ASSERT_TRUE(status.ok()) << status.message();
      EXPECT_EQ(prompt, entry["expected"].get<std::string>());
    }
  }
  EXPECT_EQ(templatesSeen.size(), 7u);
}

// The family comes from the template's markers; ChatML templates with a
// built-in system turn expose its text.
TEST(ChatTemplate, DetectsFamilies) {
  std::map<std::string, ChatFamily> expected = {
      {"smollm2", ChatFamily::ChatMl},  {"chatml", ChatFamily::ChatMl},
      {"llama3", ChatFamily::Llama3},   {"llama2", ChatFamily::Llama2},
      {"mistral", ChatFamily::Mistral}, {"gemma2", ChatFamily::Gemma},
      {"gemma3", ChatFamily::Gemma}};
  for (const Json &entry : loadCases()) {
    ChatTemplate chat;
    ASSERT_TRUE(ChatTemplate::detect(entry["template"], chat).ok());
    EXPECT_EQ(chat.family(), expected[entry["template_name"]]);
    if (entry["template_name"] == "smollm2")
      EXPECT_EQ(chat.defaultSystemPrompt(),
                "You are a helpful AI assistant named SmolLM, trained by "
                "Hugging Face");
    if (entry["template_name"] == "chatml")
      EXPECT_EQ(chat.defaultSystemPrompt(), "");
  }
}

// A template of no known family is an explicit error, not a guess.
TEST(ChatTemplate, UnrecognisedTemplateIsAnError) {
  ChatTemplate chat;
  Status status = ChatTemplate::detect(
      "{% for m in messages %}### {{ m.role }}: {{ m.content }}\n{% endfor %}",
      chat);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("not recognised"));
  status = ChatTemplate::detect("", chat);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("no chat template"));
}
