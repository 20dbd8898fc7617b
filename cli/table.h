#ifndef DEJA_CLI_TABLE_H_
#define DEJA_CLI_TABLE_H_

// A plain-text table for terminals: a header row, columns left-aligned and
// separated by two spaces, no trailing spaces. Cells are put on one line and
// cut to their column's maximum width with "…". Not thread-safe.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace deja::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // Cells beyond the header count are dropped; missing ones are empty.
  void AddRow(std::vector<std::string> cells);
  // Longer cells in `column` are truncated to `width` columns.
  void SetMaxWidth(size_t column, size_t width);

  size_t row_count() const { return rows_.size(); }

  // The header line and one line per row, each ending in "\n".
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<size_t> max_widths_;  // 0: unlimited
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace deja::cli

#endif  // DEJA_CLI_TABLE_H_
