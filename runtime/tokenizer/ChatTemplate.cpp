//===- ChatTemplate.cpp - the chat-template families, rendered in C++ -----===//
//
// Each render function is the C++ reading of a verbatim upstream template,
// named beside it; test/unit/tokenizer/chat_template_cases.json holds jinja2's
// renderings of those templates that the unit tests compare against.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/ChatTemplate.h"
#include "runtime/tokenizer/Unicode.h"

namespace llmc::tokenizer {

const char *chatFamilyName(ChatFamily family) {
  switch (family) {
  case ChatFamily::ChatMl:
    return "chatml";
  case ChatFamily::Llama3:
    return "llama3";
  case ChatFamily::Llama2:
    return "llama2";
  case ChatFamily::Mistral:
    return "mistral";
  case ChatFamily::Gemma:
    return "gemma";
  }
  return "unknown";
}

namespace {
bool contains(const std::string &text, const char *marker) {
  return text.find(marker) != std::string::npos;
}

// Python's str.isspace() (what Jinja's `trim` and `.strip()` remove): the
// Unicode whitespace plus the ASCII separators U+001C..U+001F.
bool isPythonSpace(uint32_t cp) {
  return unicode::isWhitespace(cp) || (cp >= 0x1C && cp <= 0x1F);
}

std::string pythonStrip(const std::string &text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end) {
    size_t pos = begin;
    if (!unicode::validSequenceLength(text, pos) ||
        !isPythonSpace(unicode::decodeAt(text, pos)))
      break;
    begin = pos;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin &&
           (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
      --start;
    size_t pos = start;
    if (!unicode::validSequenceLength(text, pos) ||
        !isPythonSpace(unicode::decodeAt(text, pos)))
      break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

// The system turn a ChatML template inserts when the conversation has none:
// `'<|im_start|>system\n<literal text><|im_end|>\n'` inside the template.
std::string findDefaultSystemPrompt(const std::string &text) {
  const std::string opener = "<|im_start|>system";
  for (size_t at = text.find(opener); at != std::string::npos;
       at = text.find(opener, at + 1)) {
    size_t begin = at + opener.size();
    if (text.compare(begin, 2, "\\n") == 0)
      begin += 2;
    else if (text.compare(begin, 1, "\n") == 0)
      begin += 1;
    else
      continue;
    size_t end = text.find("<|im_end|>", begin);
    if (end == std::string::npos)
      continue;
    std::string literal = text.substr(begin, end - begin);
    // `'...system\n' + message['content']` is not a literal.
    if (literal.empty() || literal.find_first_of("'\"{}+") != std::string::npos)
      continue;
    return literal;
  }
  return "";
}

Status alternationError() {
  return Status::error("chat template: conversation roles must alternate "
                       "user/assistant/user/assistant/...");
}

// The Llama 2 and Gemma templates read messages[0] unconditionally.
Status emptyConversationError() {
  return Status::error("chat template: the conversation has no messages");
}

// Every other message from `first` must be a user turn, starting with one.
Status checkAlternation(const std::vector<ChatMessage> &messages,
                        size_t first) {
  for (size_t i = first; i < messages.size(); ++i)
    if ((messages[i].role == "user") != ((i - first) % 2 == 0))
      return alternationError();
  return Status::success();
}
} // namespace

Status ChatTemplate::detect(const std::string &text, ChatTemplate &out) {
  if (contains(text, "<|im_start|>")) {
    out = forFamily(ChatFamily::ChatMl);
    out.defaultSystem_ = findDefaultSystemPrompt(text);
  } else if (contains(text, "<|start_header_id|>")) {
    out = forFamily(ChatFamily::Llama3);
  } else if (contains(text, "<start_of_turn>")) {
    out = forFamily(ChatFamily::Gemma);
    out.systemAllowed_ = !contains(text, "System role not supported");
  } else if (contains(text, "<<SYS>>")) {
    out = forFamily(ChatFamily::Llama2);
  } else if (contains(text, "[INST]")) {
    out = forFamily(ChatFamily::Mistral);
  } else if (text.empty()) {
    return Status::error("the model has no chat template; pass a chat format "
                         "(chatml, llama3, llama2, mistral, gemma) explicitly");
  } else {
    return Status::error(
        "chat template not recognised: llmc renders ChatML (<|im_start|>), "
        "Llama 3 (<|start_header_id|>), Llama 2 (<<SYS>>), Mistral ([INST]) "
        "and Gemma (<start_of_turn>) templates, and this one has none of "
        "their markers");
  }
  return Status::success();
}

ChatTemplate ChatTemplate::forFamily(ChatFamily family) {
  ChatTemplate chat;
  chat.family_ = family;
  return chat;
}

Status ChatTemplate::render(const std::vector<ChatMessage> &messages,
                            bool addGenerationPrompt,
                            const std::string &bosToken,
                            const std::string &eosToken,
                            std::string &prompt) const {
  prompt.clear();
  switch (family_) {
  case ChatFamily::ChatMl:
    // SmolLM2 / Qwen2: `{% if loop.first and messages[0]['role'] != 'system'
    // %}<default system turn>{% endif %}{{'<|im_start|>' + message['role'] +
    // '\n' + message['content'] + '<|im_end|>' + '\n'}}`.
    if (!defaultSystem_.empty() &&
        (messages.empty() || messages[0].role != "system")) {
      if (!messages.empty())
        prompt += "<|im_start|>system\n" + defaultSystem_ + "<|im_end|>\n";
    }
    for (const ChatMessage &message : messages)
      prompt += "<|im_start|>" + message.role + "\n" + message.content +
                "<|im_end|>\n";
    if (addGenerationPrompt)
      prompt += "<|im_start|>assistant\n";
    return Status::success();

  case ChatFamily::Llama3:
    // Meta-Llama-3-8B-Instruct: bos_token before the first turn, contents
    // trimmed.
    for (size_t i = 0; i < messages.size(); ++i) {
      if (i == 0)
        prompt += bosToken;
      prompt += "<|start_header_id|>" + messages[i].role +
                "<|end_header_id|>\n\n" + pythonStrip(messages[i].content) +
                "<|eot_id|>";
    }
    if (addGenerationPrompt)
      prompt += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return Status::success();

  case ChatFamily::Llama2: {
    // Llama-2-chat: the system message goes into the first user turn.
    if (messages.empty())
      return emptyConversationError();
    size_t first = 0;
    std::string system;
    bool hasSystem = !messages.empty() && messages[0].role == "system";
    if (hasSystem) {
      system = messages[0].content;
      first = 1;
    }
    if (Status status = checkAlternation(messages, first); !status)
      return status;
    for (size_t i = first; i < messages.size(); ++i) {
      std::string content = messages[i].content;
      if (i == first && hasSystem)
        content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
      if (messages[i].role == "user")
        prompt += bosToken + "[INST] " + pythonStrip(content) + " [/INST]";
      else if (messages[i].role == "assistant")
        prompt += " " + pythonStrip(content) + " " + eosToken;
    }
    return Status::success();
  }

  case ChatFamily::Mistral:
    // Mistral-7B-Instruct-v0.1/v0.2: no system role at all.
    if (Status status = checkAlternation(messages, 0); !status)
      return status;
    prompt += bosToken;
    for (const ChatMessage &message : messages) {
      if (message.role == "user")
        prompt += "[INST] " + message.content + " [/INST]";
      else if (message.role == "assistant")
        prompt += message.content + eosToken;
      else
        return Status::error(
            "chat template: only user and assistant roles are supported");
    }
    return Status::success();

  case ChatFamily::Gemma: {
    // Gemma 3 folds a system message into the first user turn (followed by
    // a blank line); Gemma 2 raises on one.
    if (messages.empty())
      return emptyConversationError();
    size_t first = 0;
    std::string firstUserPrefix;
    if (!messages.empty() && messages[0].role == "system") {
      if (!systemAllowed_)
        return Status::error("chat template: system role not supported");
      firstUserPrefix = messages[0].content + "\n\n";
      first = 1;
    }
    if (Status status = checkAlternation(messages, first); !status)
      return status;
    prompt += bosToken;
    for (size_t i = first; i < messages.size(); ++i) {
      const std::string role =
          messages[i].role == "assistant" ? "model" : messages[i].role;
      prompt += "<start_of_turn>" + role + "\n" +
                (i == first ? firstUserPrefix : "") +
                pythonStrip(messages[i].content) + "<end_of_turn>\n";
    }
    if (addGenerationPrompt)
      prompt += "<start_of_turn>model\n";
    return Status::success();
  }
  }
  return Status::error("chat template: unknown family");
}

Status encodePrompt(const Tokenizer &tokenizer, const std::string &prompt,
                    bool chat, std::vector<int32_t> &ids) {
  EncodeOptions encode;
  if (!chat) {
    encode.addSpecialTokens = true;
    return tokenizer.encode(prompt, encode, ids);
  }
  ChatTemplate chatTemplate;
  if (Status status =
          ChatTemplate::detect(tokenizer.chatTemplate(), chatTemplate);
      !status.ok())
    return Status::error("chat template: " + status.message());
  std::string rendered;
  if (Status status = chatTemplate.render(
          {{"user", prompt}}, /*addGenerationPrompt=*/true,
          tokenizer.bosToken(), tokenizer.eosToken(), rendered);
      !status.ok())
    return status;
  encode.addSpecialTokens = false;
  return tokenizer.encode(rendered, encode, ids);
}

} // namespace llmc::tokenizer
