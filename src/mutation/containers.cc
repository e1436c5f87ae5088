// Go's encoding/csv for one record, and the container selection built on it.
#include "mutation/containers.h"

#include <algorithm>

#include "common/quote.h"

namespace irsa::mutation {
namespace {

// Go's reader normalises "\r\n" to "\n" line by line, and drops a "\r"
// that ends the input; on the whole text that is the same.
std::string normalise_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return out;
}

std::string position(const std::string& text, std::size_t offset) {
  std::size_t line = 1 + static_cast<std::size_t>(std::count(
                             text.begin(), text.begin() + static_cast<long>(offset), '\n'));
  std::size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  std::size_t column =
      line_start == std::string::npos || offset == 0 ? offset + 1 : offset - line_start;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

CsvRecord read_csv_record(std::string_view input) {
  CsvRecord record;
  const std::string text = normalise_newlines(input);
  const std::size_t size = text.size();
  std::size_t pos = 0;
  while (pos < size && text[pos] == '\n') ++pos;  // empty lines before the record
  if (pos == size) {
    record.status = CsvRecord::Status::kEmpty;
    return record;
  }
  auto fail = [&record, &text](std::size_t offset, std::string_view what) {
    record.status = CsvRecord::Status::kError;
    record.fields.clear();
    record.error = std::string(what) + " at " + position(text, offset);
    return record;
  };
  while (true) {
    if (pos < size && text[pos] == '"') {
      std::string field;
      std::size_t open = pos++;
      while (true) {
        std::size_t quote = text.find('"', pos);
        if (quote == std::string::npos) {
          return fail(open, "unclosed \"");
        }
        field.append(text, pos, quote - pos);
        pos = quote + 1;
        if (pos < size && text[pos] == '"') {  // "" is one quote
          field += '"';
          ++pos;
          continue;
        }
        if (pos < size && text[pos] == ',') {
          ++pos;
          record.fields.push_back(std::move(field));
          break;
        }
        if (pos == size || text[pos] == '\n') {
          record.fields.push_back(std::move(field));
          return record;
        }
        return fail(quote + 1, "text after closing \"");
      }
      continue;
    }
    std::size_t end = pos;
    while (end < size && text[end] != ',' && text[end] != '\n') ++end;
    std::string_view field(text.data() + pos, end - pos);
    if (auto bare = field.find('"'); bare != std::string_view::npos) {
      return fail(pos + bare, "bare \"");
    }
    record.fields.emplace_back(field);
    if (end < size && text[end] == ',') {
      pos = end + 1;
      continue;
    }
    return record;
  }
}

ContainerList parse_container_list(std::string_view annotation) {
  ContainerList list;
  CsvRecord record = read_csv_record(annotation);
  if (record.status == CsvRecord::Status::kError) {
    list.error = std::move(record.error);
    return list;
  }
  for (const auto& field : record.fields) {
    std::string_view name = trim(field);
    if (!name.empty()) list.names.emplace_back(name);
  }
  return list;
}

bool ContainerSelection::receives(bool init_container, std::size_t index) const {
  const auto& list = init_container ? init_containers : containers;
  return index < list.size() && list[index];
}

bool ContainerSelection::any() const {
  return std::find(init_containers.begin(), init_containers.end(), true) != init_containers.end() ||
         std::find(containers.begin(), containers.end(), true) != containers.end();
}

std::vector<std::string> ContainerSelection::excluded(const PodView& pod) const {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < pod.init_containers.size(); ++i) {
    if (!receives(true, i)) names.emplace_back(pod.init_containers[i].name);
  }
  for (std::size_t i = 0; i < pod.containers.size(); ++i) {
    if (!receives(false, i)) names.emplace_back(pod.containers[i].name);
  }
  return names;
}

ContainerSelection select_containers(const PodView& pod, std::string_view annotation_prefix) {
  ContainerSelection selection;
  const std::string prefix = std::string(annotation_prefix) + "/";
  auto include = pod.annotation(prefix + "include-containers");
  auto skip = pod.annotation(prefix + "skip-containers");
  bool select_all = true;
  bool malformed = false;
  std::vector<std::string> names;
  if (include) {
    select_all = false;
    ContainerList list = parse_container_list(*include);
    if (list.error) {
      malformed = true;
      selection.warnings.push_back(prefix + "include-containers is not valid CSV (" + *list.error +
                                   "): no container gets the identity");
    } else {
      names = std::move(list.names);
    }
    if (skip) {
      selection.warnings.push_back(prefix +
                                   "skip-containers is ignored: include-containers is set");
    }
  } else if (skip) {
    ContainerList list = parse_container_list(*skip);
    if (list.error) {
      selection.warnings.push_back(prefix + "skip-containers is not valid CSV (" + *list.error +
                                   "): no container is skipped");
    } else {
      names = std::move(list.names);
    }
  }
  auto fill = [&](const std::vector<ContainerView>& list, std::vector<bool>& out) {
    out.reserve(list.size());
    for (const auto& container : list) {
      bool named = contains(names, container.name);
      out.push_back(select_all ? !named : named);
    }
  };
  fill(pod.init_containers, selection.init_containers);
  fill(pod.containers, selection.containers);
  if (include && !malformed) {
    if (names.empty()) {
      selection.warnings.push_back(prefix +
                                   "include-containers is empty: no container gets the identity");
    } else if (!selection.any()) {
      selection.warnings.push_back(prefix + "include-containers matches no container (" +
                                   quote(names.front(), 16) + "): none gets the identity");
    }
  }
  return selection;
}

}  // namespace irsa::mutation
