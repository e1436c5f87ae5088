// JSON framing by a character state machine that knows strings, escapes and
// nesting; the framed pieces are parsed later by a real parser.
#include "kube/json_stream.h"

#include <nlohmann/json.hpp>

namespace irsa::kube {
namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

Status JsonObjectSplitter::feed(std::string_view chunk,
                                const std::function<bool(std::string_view)>& on_object) {
  std::size_t start = 0;  // where the current object's bytes begin in `chunk`
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    char c = chunk[i];
    if (depth_ == 0 && current_.empty() && i == start) {
      if (is_space(c)) {
        ++start;
        continue;
      }
      if (c != '{') return Error{"watch stream: expected a JSON object"};
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ < 0) return Error{"watch stream: unbalanced JSON"};
      if (depth_ == 0) {
        std::string_view piece = chunk.substr(start, i + 1 - start);
        if (current_.size() + piece.size() > max_object_bytes_) {
          return Error{"watch stream: an object is larger than " +
                       std::to_string(max_object_bytes_) + " bytes"};
        }
        bool go_on;
        if (current_.empty()) {
          go_on = on_object(piece);
        } else {
          current_.append(piece);
          go_on = on_object(current_);
          current_.clear();
        }
        start = i + 1;
        if (!go_on) return Ok{};
      }
    }
    if (current_.size() + (i + 1 - start) > max_object_bytes_) {
      return Error{"watch stream: an object is larger than " + std::to_string(max_object_bytes_) +
                   " bytes"};
    }
  }
  if (start < chunk.size() && depth_ > 0) current_.append(chunk.substr(start));
  return Ok{};
}

Status ListStreamParser::feed(std::string_view chunk,
                              const std::function<bool(std::string_view)>& on_item) {
  std::size_t start = 0;  // where the capture in progress begins in `chunk`
  auto target = [this]() -> std::string* {
    switch (capture_) {
      case Capture::kKey:
        return &key_;
      case Capture::kKind:
        return &kind_json_;
      case Capture::kMetadata:
      case Capture::kItem:
        return &buffer_;
      case Capture::kNone:
        return nullptr;
    }
    return nullptr;
  };
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    char c = chunk[i];
    if (done_) {
      if (!is_space(c)) return Error{"list: data after the end of the list"};
      continue;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (capture_ == Capture::kKey) {
          key_.append(chunk.substr(start, i - start));
          capture_ = Capture::kNone;
        } else if (capture_ == Capture::kKind) {
          kind_json_.append(chunk.substr(start, i + 1 - start));
          capture_ = Capture::kNone;
        }
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        if (depth_ == 1 && expecting_key_) {
          capture_ = Capture::kKey;
          key_.clear();
          start = i + 1;
        } else if (depth_ == 1 && key_ == "kind" && capture_ == Capture::kNone) {
          capture_ = Capture::kKind;
          kind_json_.clear();
          start = i;
        }
        break;
      case '{':
      case '[':
        if (depth_ == 0) {
          if (c != '{') return Error{"list: expected a JSON object"};
          saw_object_ = true;
          depth_ = 1;
          expecting_key_ = true;
          break;
        }
        if (capture_ == Capture::kNone) {
          if (depth_ == 1 && key_ == "metadata" && c == '{') {
            capture_ = Capture::kMetadata;
            capture_depth_ = 1;
            buffer_.clear();
            start = i;
          } else if (depth_ == 1 && key_ == "items" && c == '[') {
            in_items_ = true;
          } else if (depth_ == 2 && in_items_ && c == '{') {
            capture_ = Capture::kItem;
            capture_depth_ = 2;
            buffer_.clear();
            start = i;
          }
        }
        ++depth_;
        break;
      case '}':
      case ']':
        if (--depth_ < 0) return Error{"list: unbalanced JSON"};
        if ((capture_ == Capture::kMetadata || capture_ == Capture::kItem) &&
            depth_ == capture_depth_) {
          buffer_.append(chunk.substr(start, i + 1 - start));
          Capture finished = capture_;
          capture_ = Capture::kNone;
          if (finished == Capture::kMetadata) {
            metadata_json_ = buffer_;
          } else if (!on_item(buffer_)) {
            buffer_.clear();
            return Ok{};
          }
          buffer_.clear();
        }
        if (depth_ == 1 && in_items_ && c == ']') in_items_ = false;
        if (depth_ == 0) done_ = true;
        break;
      case ':':
        if (depth_ == 1) expecting_key_ = false;
        break;
      case ',':
        if (depth_ == 1) expecting_key_ = true;
        break;
      default:
        if (depth_ == 0 && !is_space(c)) return Error{"list: expected a JSON object"};
        break;
    }
    if (capture_ != Capture::kNone && buffer_.size() + (i + 1 - start) > max_item_bytes_) {
      return Error{"list: an item is larger than " + std::to_string(max_item_bytes_) + " bytes"};
    }
  }
  if (std::string* into = target(); into && start < chunk.size()) into->append(chunk.substr(start));
  return Ok{};
}

Result<ListStreamParser::ListMeta> ListStreamParser::finish() const {
  if (!saw_object_) return Error{"list: empty body"};
  if (!done_) return Error{"list: the body ended before the list did"};
  ListMeta meta;
  try {
    if (!kind_json_.empty()) {
      auto kind = nlohmann::json::parse(kind_json_);
      if (kind.is_string()) meta.kind = kind.get<std::string>();
    }
    if (!metadata_json_.empty()) {
      auto metadata = nlohmann::json::parse(metadata_json_);
      if (auto rv = metadata.find("resourceVersion"); rv != metadata.end() && rv->is_string()) {
        meta.resource_version = rv->get<std::string>();
      }
      if (auto token = metadata.find("continue"); token != metadata.end() && token->is_string()) {
        meta.continue_token = token->get<std::string>();
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Error{std::string("list: bad metadata: ") + e.what()};
  }
  return meta;
}

}  // namespace irsa::kube
