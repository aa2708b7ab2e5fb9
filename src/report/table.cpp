#include "moedil/report/table.h"

#include <algorithm>
#include <cstdio>
#include <regex>
#include <sstream>

#include "moedil/common/printable.h"

namespace moedil::report {

Cell Cell::num(std::optional<double> v) {
  Cell c("");
  c.number = v;
  c.is_number = true;
  return c;
}

Cell Cell::integer(long long v) {
  Cell c(std::to_string(v));
  c.number = static_cast<double>(v);
  c.is_number = true;
  return c;
}

std::string Cell::display() const {
  if (!is_number) return text;
  if (!number) return "n/a";
  if (!text.empty()) return text;  // integers keep their text
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4f", *number);
  return buf;
}

std::string Cell::csv() const {
  if (!is_number) return text;
  if (!number) return "n/a";
  if (!text.empty()) return text;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", *number);
  return buf;
}

std::string to_text(const Table& t) {
  // Cells come from run.json files and paths: control characters are shown as escapes.
  std::vector<std::string> columns;
  for (const auto& c : t.columns) columns.push_back(printable(c));
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : t.rows) {
    cells.emplace_back();
    for (const Cell& cell : row) cells.back().push_back(printable(cell.display()));
  }
  std::vector<std::size_t> width(columns.size(), 0);
  for (std::size_t c = 0; c < columns.size(); ++c) width[c] = columns[c].size();
  for (const auto& row : cells) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::ostringstream out;
  if (!t.title.empty()) out << printable(t.title) << "\n";
  auto line = [&](auto cell_text, auto right) {
    for (std::size_t c = 0; c < width.size(); ++c) {
      const std::string s = cell_text(c);
      const std::string pad(width[c] - std::min(width[c], s.size()), ' ');
      if (c > 0) out << "  ";
      out << (right(c) ? pad + s : s + (c + 1 < width.size() ? pad : ""));
    }
    out << "\n";
  };
  // Headers of number columns are right-aligned like their numbers.
  line([&](std::size_t c) { return columns[c]; },
       [&](std::size_t c) { return !t.rows.empty() && c < t.rows[0].size() && t.rows[0][c].is_number; });
  std::size_t total = 0;
  for (std::size_t w : width) total += w;
  out << std::string(total + 2 * (width.empty() ? 0 : width.size() - 1), '-') << "\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    line([&](std::size_t c) { return c < cells[r].size() ? cells[r][c] : std::string(); },
         [&](std::size_t c) { return c < row.size() && row[c].is_number; });
  }
  return out.str();
}

namespace {
// A number as a spreadsheet reads it: "-0.25", "3", "1e-05" (kept as they are in CSV).
bool plain_number(const std::string& s) {
  static const std::regex number(R"([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)");
  return std::regex_match(s, number);
}
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}
}  // namespace

std::string md_escape(const std::string& s) {
  static const std::string significant = "\\`*_{}[]<>()#!|~&$";
  std::string out;
  for (char ch : printable(s)) {
    if (significant.find(ch) != std::string::npos) out += '\\';
    out += ch;
  }
  return out;
}

std::string csv_text(const std::string& raw) {
  const std::string s = printable(raw);
  if (!s.empty() && std::string("=+-@\t\r").find(s.front()) != std::string::npos &&
      !plain_number(s)) {
    return "'" + s;
  }
  return s;
}

std::string to_markdown(const Table& t) {
  std::ostringstream out;
  if (!t.title.empty()) out << "### " << md_escape(t.title) << "\n\n";
  out << "|";
  for (const auto& c : t.columns) out << " " << md_escape(c) << " |";
  out << "\n|";
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    const bool right = !t.rows.empty() && c < t.rows[0].size() && t.rows[0][c].is_number;
    out << (right ? " ---: |" : " --- |");
  }
  out << "\n";
  for (const auto& row : t.rows) {
    out << "|";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const bool num = c < row.size() && row[c].is_number;
      out << " " << (c >= row.size() ? "" : num ? row[c].display() : md_escape(row[c].display()))
          << " |";
    }
    out << "\n";
  }
  return out.str();
}

std::string to_csv(const Table& t) {
  std::ostringstream out;
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    out << (c ? "," : "") << csv_field(csv_text(t.columns[c]));
  }
  out << "\n";
  for (const auto& row : t.rows) {
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const bool num = c < row.size() && row[c].is_number;
      out << (c ? "," : "")
          << (c >= row.size() ? "" : csv_field(num ? row[c].csv() : csv_text(row[c].csv())));
    }
    out << "\n";
  }
  return out.str();
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string to_html(const Table& t) {
  std::ostringstream out;
  out << "<table>";
  if (!t.title.empty()) out << "<caption>" << html_escape(t.title) << "</caption>";
  out << "<thead><tr>";
  for (const auto& c : t.columns) out << "<th>" << html_escape(c) << "</th>";
  out << "</tr></thead><tbody>\n";
  for (const auto& row : t.rows) {
    out << "<tr>";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const bool num = c < row.size() && row[c].is_number;
      out << (num ? "<td class=\"num\">" : "<td>")
          << (c < row.size() ? html_escape(row[c].display()) : "") << "</td>";
    }
    out << "</tr>\n";
  }
  out << "</tbody></table>\n";
  return out.str();
}

}  // namespace moedil::report
