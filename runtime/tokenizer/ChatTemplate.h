//===- ChatTemplate.h - chat prompts without a Jinja interpreter ----------===//
//
// A model's chat template is Jinja, which the runtime does not run. Instead it
// recognises the template's family from the markers its text contains and
// renders that family's format in C++, identical to what Jinja renders from
// the real templates (the unit tests compare against jinja2 renderings of
// each model's verbatim template). An unrecognised template is an error.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_TOKENIZER_CHATTEMPLATE_H
#define LLMC_RUNTIME_TOKENIZER_CHATTEMPLATE_H

#include "runtime/tokenizer/Tokenizer.h"

#include <string>
#include <vector>

namespace llmc::tokenizer {

enum class ChatFamily {
  /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen2/2.5/3, ...).
  ChatMl,
  /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`.
  Llama3,
  /// `<s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] answer </s>`.
  Llama2,
  /// `<s>[INST] user [/INST]answer</s>` (Mistral / Mixtral v0.1-v0.2).
  Mistral,
  /// `<start_of_turn>user\n...<end_of_turn>\n` with `model` for assistant.
  Gemma,
};

const char *chatFamilyName(ChatFamily family);

struct ChatMessage {
  std::string role;
  std::string content;
};

class ChatTemplate {
public:
  /// Recognises `templateText` (the model's Jinja chat template).
  static Status detect(const std::string &templateText, ChatTemplate &out);
  /// A family directly, e.g. for a model without a template.
  static ChatTemplate forFamily(ChatFamily family);

  ChatFamily family() const { return family_; }
  /// ChatML templates that insert a system turn when the conversation has
  /// none (SmolLM2, Qwen2.5) carry its text here; empty otherwise.
  const std::string &defaultSystemPrompt() const { return defaultSystem_; }

  /// Renders the conversation as the model's template does; `bosToken` /
  /// `eosToken` are the texts the template's bos_token / eos_token stand for.
  /// Errors where the template raises (roles not alternating, a system
  /// message where the family has none).
  Status render(const std::vector<ChatMessage> &messages,
                bool addGenerationPrompt, const std::string &bosToken,
                const std::string &eosToken, std::string &prompt) const;

private:
  ChatFamily family_ = ChatFamily::ChatMl;
  std::string defaultSystem_;
  /// Gemma 2's template raises on a system message; Gemma 3's folds it into
  /// the first user turn.
  bool systemAllowed_ = true;
};

/// The token ids of a user prompt: raw text gets the model's special tokens
/// (BOS); with `chat`, the model's chat template renders one user turn and a
/// generation prompt, which already hold the special tokens as text.
Status encodePrompt(const Tokenizer &tokenizer, const std::string &prompt,
                    bool chat, std::vector<int32_t> &ids);

} // namespace llmc::tokenizer

#endif // LLMC_RUNTIME_TOKENIZER_CHATTEMPLATE_H
