#include "cli/table.h"

#include <algorithm>
#include <utility>

#include "cli/format.h"

namespace deja::cli {

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), max_widths_(headers_.size(), 0) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (std::string& cell : cells) cell = OneLine(cell);
  rows_.push_back(std::move(cells));
}

void Table::SetMaxWidth(size_t column, size_t width) {
  if (column < max_widths_.size()) max_widths_[column] = width;
}

std::string Table::Render() const {
  // Truncate first so that column widths are measured on what is shown.
  std::vector<std::vector<std::string>> lines;
  lines.push_back(headers_);
  for (const auto& row : rows_) {
    std::vector<std::string> shown;
    for (size_t i = 0; i < row.size(); ++i) {
      shown.push_back(max_widths_[i] > 0
                          ? TruncateToWidth(row[i], max_widths_[i])
                          : row[i]);
    }
    lines.push_back(std::move(shown));
  }
  std::vector<size_t> widths(headers_.size(), 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(line[i]));
    }
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      if (i > 0) text += "  ";
      text += line[i];
      if (i + 1 < line.size()) {
        text.append(widths[i] - DisplayWidth(line[i]), ' ');
      }
    }
    // A trailing empty cell would leave padding behind.
    text.erase(text.find_last_not_of(' ') + 1);
    out += text;
    out += '\n';
  }
  return out;
}

}  // namespace deja::cli
