// Manifest reading: JSON through nlohmann, YAML through yaml-cpp converted to
// nlohmann values with the YAML 1.2 core schema, Lists flattened.
#include "manifest/documents.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "common/quote.h"
#include "common/utf8.h"
#include "files/read.h"

namespace irsa::manifest {
namespace {

using nlohmann::json;

// Aliases let a small YAML text expand into a huge value ("billion laughs").
// A text without aliases yields fewer values than it has bytes, so this only
// stops expansion, never a plain manifest. The base allows a small file ten
// thousands of values from aliases; at 262144 a 351-byte bomb took 1 s under
// ASan and timed the manifest fuzzer out on a busy machine.
constexpr std::size_t kBaseValueBudget = 65536;
constexpr std::size_t kValuesPerByte = 4;

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

std::string too_deep() {
  return "nesting deeper than " + std::to_string(kMaxNestingDepth) + " levels";
}

std::string at(std::string_view origin, std::size_t line, std::size_t column,
               std::string_view message) {
  std::string out(origin);
  out += ": line ";
  out += std::to_string(line);
  out += ", column ";
  out += std::to_string(column);
  out += ": ";
  out += message;
  return one_line(std::move(out));
}

// 1-based line and column of byte `offset`, counting bytes as nlohmann does.
std::pair<std::size_t, std::size_t> position_of(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, offset - line_start + 1};
}

std::string_view skip_bom(std::string_view text) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  return text;
}

bool looks_like_json(std::string_view text) {
  for (char c : skip_bom(text)) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

// A List document ("kind: List" or "*List" with items) stands for its items.
void append_document(json document, std::vector<json>& out) {
  if (document.is_null()) return;
  if (document.is_object()) {
    auto kind = document.find("kind");
    if (kind != document.end() && kind->is_string()) {
      const auto& name = kind->get_ref<const std::string&>();
      bool list_kind = name.size() >= 4 && name.compare(name.size() - 4, 4, "List") == 0;
      auto items = document.find("items");
      bool has_items = items != document.end() && items->is_array();
      if (list_kind && has_items) {
        for (auto& item : *items) {
          if (!item.is_null()) out.push_back(std::move(item));
        }
        return;
      }
      if (name == "List" && (items == document.end() || items->is_null())) return;
    }
  }
  out.push_back(std::move(document));
}

Result<std::vector<json>> parse_json(std::string_view text, std::string_view origin) {
  if (auto offset = find_json_nesting_beyond(text, kMaxNestingDepth)) {
    auto [line, column] = position_of(text, *offset);
    return Error{at(origin, line, column, too_deep())};
  }
  json parsed;
  try {
    parsed = json::parse(text);
  } catch (const json::exception& e) {
    return Error{one_line(std::string(origin) + ": " + describe_json_error(e))};
  }
  std::vector<json> documents;
  if (parsed.is_array()) {
    for (auto& element : parsed) append_document(std::move(element), documents);
  } else {
    append_document(std::move(parsed), documents);
  }
  return documents;
}

// Thrown inside the YAML conversion, caught by parse_yaml.
struct ConversionError {
  YAML::Mark mark;
  std::string message;
};

// Integers of the core schema: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+.
std::optional<json> core_integer(std::string_view text) {
  auto digits_in = [](std::string_view s, int base) {
    if (s.empty()) return false;
    for (char c : s) {
      bool ok = base == 8    ? (c >= '0' && c <= '7')
                : base == 10 ? (c >= '0' && c <= '9')
                             : std::isxdigit(static_cast<unsigned char>(c)) != 0;
      if (!ok) return false;
    }
    return true;
  };
  auto unsigned_value = [](std::string_view s, int base) -> std::optional<uint64_t> {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
  };
  auto as_json = [](uint64_t value) {
    if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return json(static_cast<int64_t>(value));
    }
    return json(value);
  };
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'o' || text[1] == 'x')) {
    int base = text[1] == 'o' ? 8 : 16;
    std::string_view digits = text.substr(2);
    if (!digits_in(digits, base)) return std::nullopt;
    auto value = unsigned_value(digits, base);
    if (!value) return json(std::string(text));  // too large for any integer: keep the text
    return as_json(*value);
  }
  bool negative = !text.empty() && text[0] == '-';
  std::string_view digits = text;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
  if (!digits_in(digits, 10)) return std::nullopt;
  auto magnitude = unsigned_value(digits, 10);
  if (magnitude) {
    constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;
    if (!negative) return as_json(*magnitude);
    if (*magnitude < kMinMagnitude) return json(-static_cast<int64_t>(*magnitude));
    if (*magnitude == kMinMagnitude) return json(std::numeric_limits<int64_t>::min());
  }
  // Beyond 64 bits: a float, as YAML 1.2 leaves the range to the application.
  double value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return json(negative ? -value : value);
}

// Floats of the core schema, including .inf and .nan.
std::optional<json> core_float(std::string_view text) {
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    double inf = std::numeric_limits<double>::infinity();
    return json(negative ? -inf : inf);
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return json(std::numeric_limits<double>::quiet_NaN());
  }
  // (\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i;
    return i - start;
  };
  if (i < body.size() && body[i] == '.') {
    ++i;
    if (digits() == 0) return std::nullopt;
  } else {
    if (digits() == 0) return std::nullopt;
    if (i < body.size() && body[i] == '.') {
      ++i;
      digits();
    }
  }
  bool negative_exponent = false;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) {
      negative_exponent = body[i] == '-';
      ++i;
    }
    if (digits() == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec == std::errc::result_out_of_range) {
    value = negative_exponent ? 0.0 : std::numeric_limits<double>::infinity();
  }
  return json(negative ? -value : value);
}

std::optional<json> core_null(std::string_view text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return json(nullptr);
  }
  return std::nullopt;
}

std::optional<json> core_bool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return json(true);
  if (text == "false" || text == "False" || text == "FALSE") return json(false);
  return std::nullopt;
}

// A plain scalar resolved with the YAML 1.2 core schema.
json resolve_plain(std::string_view text) {
  if (auto value = core_null(text)) return *value;
  if (auto value = core_bool(text)) return *value;
  if (auto value = core_integer(text)) return *value;
  if (auto value = core_float(text)) return *value;
  return json(std::string(text));
}

class YamlConverter {
 public:
  explicit YamlConverter(std::size_t budget) : budget_(budget) {}

  json convert(const YAML::Node& node, int depth) {
    if (++values_ > budget_) {
      throw ConversionError{
          node.Mark(), "more than " + std::to_string(budget_) + " values after expanding aliases"};
    }
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return json(nullptr);
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        check_depth(node, depth);
        json array = json::array();
        for (const auto& element : node) array.push_back(convert(element, depth + 1));
        return array;
      }
      case YAML::NodeType::Map:
        check_depth(node, depth);
        return map(node, depth);
    }
    return json(nullptr);
  }

 private:
  static void check_depth(const YAML::Node& node, int depth) {
    if (depth >= kMaxNestingDepth) {
      throw ConversionError{node.Mark(), too_deep()};
    }
  }

  // yaml-cpp 0.7 writes the escapes \N (U+0085) and \_ (U+00A0) of a
  // double-quoted scalar as the single bytes 0x85 and 0xA0, which are not
  // UTF-8 (found by fuzz/). The text was valid UTF-8, so a byte that starts
  // no valid sequence here came from such an escape: it is written as the
  // character (U+0080..U+00FF) it stands for.
  static std::string scalar_text(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (!find_invalid_utf8(text)) return text;
    std::string out;
    out.reserve(text.size() + 8);
    for (std::size_t i = 0; i < text.size();) {
      if (std::size_t length = utf8_sequence_length(text, i)) {
        out.append(text, i, length);
        i += length;
        continue;
      }
      auto byte = static_cast<unsigned char>(text[i++]);
      out += static_cast<char>(0xC0 | (byte >> 6));
      out += static_cast<char>(0x80 | (byte & 0x3F));
    }
    return out;
  }

  static json scalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    const std::string text = scalar_text(node);
    if (tag == "?") return resolve_plain(text);
    if (tag.rfind(kTagPrefix, 0) != 0) return json(text);  // "!" (quoted) or a local tag
    std::string_view type = std::string_view(tag).substr(kTagPrefix.size());
    std::optional<json> value;
    if (type == "null") {
      value = core_null(text);
    } else if (type == "bool") {
      value = core_bool(text);
    } else if (type == "int") {
      value = core_integer(text);
      if (value && !value->is_number()) value.reset();
    } else if (type == "float") {
      value = core_float(text);
      if (!value) value = core_integer(text);
      if (value && value->is_number()) value = json(value->get<double>());
      if (value && !value->is_number()) value.reset();
    } else {
      return json(text);  // !!str, !!binary, !!timestamp...: kept as text
    }
    if (!value) {
      throw ConversionError{node.Mark(), "\"" + text + "\" is not a valid !!" + std::string(type)};
    }
    return *value;
  }

  static std::string key_text(const YAML::Node& key) {
    if (key.IsScalar()) return scalar_text(key);
    if (key.IsNull()) return "null";
    throw ConversionError{key.Mark(), "mapping keys must be scalars"};
  }

  static bool is_merge_key(const YAML::Node& key) {
    return key.IsScalar() && key.Tag() == "?" && key.Scalar() == "<<";
  }

  // Keys written in the map win over merged ones ("<<: *base"), and an
  // earlier map in a merge list wins over a later one.
  json map(const YAML::Node& node, int depth) {
    json object = json::object();
    std::vector<YAML::Node> merges;
    for (const auto& entry : node) {
      if (is_merge_key(entry.first)) {
        merges.push_back(entry.second);
        continue;
      }
      object[key_text(entry.first)] = convert(entry.second, depth + 1);
    }
    for (const auto& merge : merges) {
      json merged = convert(merge, depth + 1);
      if (merged.is_object()) {
        merge_into(object, std::move(merged), merge);
      } else if (merged.is_array()) {
        for (auto& element : merged) merge_into(object, std::move(element), merge);
      } else {
        throw ConversionError{merge.Mark(), "a merge key (<<) needs a map or a list of maps"};
      }
    }
    return object;
  }

  static void merge_into(json& object, json source, const YAML::Node& where) {
    if (!source.is_object()) {
      throw ConversionError{where.Mark(), "a merge key (<<) needs a map or a list of maps"};
    }
    for (auto& [key, value] : source.items()) object.emplace(key, std::move(value));
  }

  std::size_t budget_;
  std::size_t values_ = 0;
};

std::string yaml_error(std::string_view origin, const YAML::Mark& mark, std::string_view message) {
  if (mark.is_null()) return one_line(std::string(origin) + ": " + std::string(message));
  return at(origin, static_cast<std::size_t>(mark.line) + 1,
            static_cast<std::size_t>(mark.column) + 1, message);
}

// Receives a parse's events and keeps none: for check_progress.
class IgnoreEvents : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// yaml-cpp 0.7 never returns from LoadAll on some malformed streams (a
// document that starts with ',' outside a flow collection yields empty
// documents forever without consuming it; found by fuzz/). A document takes
// at least one byte, so a parse that builds nothing and counts more
// documents than bytes is stopped. Throws what the parser throws.
bool check_progress(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  IgnoreEvents ignore;
  std::size_t documents = 0;
  while (parser.HandleNextDocument(ignore)) {
    if (++documents > text.size() + 1) return false;
  }
  return true;
}

Result<std::vector<json>> parse_yaml(std::string_view text, std::string_view origin) {
  if (auto offset = find_invalid_utf8(text)) {
    auto [line, column] = position_of(text, *offset);
    return Error{at(origin, line, column, "invalid UTF-8")};
  }
  // YAML text cannot hold a NUL byte; yaml-cpp would take one near the start
  // as UTF-16/32 and produce strings that are not UTF-8 (found by fuzz/).
  if (auto offset = text.find('\0'); offset != std::string_view::npos) {
    auto [line, column] = position_of(text, offset);
    return Error{at(origin, line, column, "a NUL byte, which YAML text cannot contain")};
  }
  std::vector<YAML::Node> nodes;
  try {
    std::string owned(text);
    if (!check_progress(owned)) {
      return Error{one_line(std::string(origin) +
                            ": not valid YAML: the parser makes no progress (a ',' outside [ ] "
                            "or { }?)")};
    }
    nodes = YAML::LoadAll(owned);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp stops far deeper than our limit, and says only "bad file".
    return Error{yaml_error(origin, e.mark, too_deep())};
  } catch (const YAML::Exception& e) {
    return Error{yaml_error(origin, e.mark, e.msg)};
  }
  YamlConverter converter(kBaseValueBudget + kValuesPerByte * text.size());
  std::vector<json> documents;
  try {
    for (const auto& node : nodes) append_document(converter.convert(node, 0), documents);
  } catch (const ConversionError& e) {
    return Error{yaml_error(origin, e.mark, e.message)};
  } catch (const YAML::Exception& e) {
    return Error{yaml_error(origin, e.mark, e.msg)};
  }
  return documents;
}

}  // namespace

std::optional<std::size_t> find_json_nesting_beyond(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return i;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

std::string describe_json_error(const nlohmann::json::exception& error) {
  std::string_view message = error.what();
  // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
  if (auto end = message.find("] ");
      !message.empty() && message[0] == '[' && end != std::string_view::npos) {
    message.remove_prefix(end + 2);
  }
  constexpr std::string_view kParseErrorAt = "parse error at ";
  if (message.substr(0, kParseErrorAt.size()) == kParseErrorAt) {
    message.remove_prefix(kParseErrorAt.size());
  }
  return one_line(std::string(message));
}

Result<std::vector<nlohmann::json>> parse_documents(std::string_view text,
                                                    std::string_view origin) {
  try {
    if (looks_like_json(text)) return parse_json(text, origin);
    return parse_yaml(text, origin);
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: still an answer, not a crash
    return Error{one_line(std::string(origin) + ": " + e.what())};
  }
}

Result<std::vector<nlohmann::json>> read_documents(const std::string& path) {
  auto text = files::read_file(path);
  if (!text) return Error{text.error()};
  return parse_documents(*text, path);
}

}  // namespace irsa::manifest
