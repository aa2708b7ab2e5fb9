#pragma once
// A titled table of text and number cells, rendered for the terminal, Markdown, CSV and HTML.
#include <optional>
#include <string>
#include <vector>

namespace moedil::report {

/// Text, or a number shown with 4 decimals (full precision in CSV); an empty optional number is
/// shown as "n/a".
struct Cell {
  std::string text;
  std::optional<double> number;
  bool is_number = false;

  Cell(std::string t) : text(std::move(t)) {}  // NOLINT: implicit from text on purpose
  Cell(const char* t) : text(t) {}             // NOLINT
  static Cell num(std::optional<double> v);
  static Cell integer(long long v);
  std::string display() const;  ///< 4 decimals
  std::string csv() const;      ///< up to 10 significant digits
};

struct Table {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

/// Columns aligned with spaces, the title above and a rule under the header; control
/// characters in any text shown as escapes (printable()), safe to print on a terminal.
std::string to_text(const Table& t);
/// A "### title" heading and a pipe table; text escaped with md_escape (numbers as they are).
std::string to_markdown(const Table& t);
/// RFC 4180: a header line, then one line per row; fields with , " or newlines quoted. Text
/// cells and headers go through csv_text (no formula injection); number cells are numbers.
std::string to_csv(const Table& t);
/// <table> with a <caption>; text HTML-escaped, numbers right-aligned.
std::string to_html(const Table& t);

/// Escapes & < > " ' for HTML text and attributes.
std::string html_escape(const std::string& s);

/// Text for Markdown: control characters as escapes (printable()), then every character that
/// Markdown or inline HTML gives a meaning (\ ` * _ { } [ ] < > ( ) # ! | ~ & $) escaped with a
/// backslash, so a name shows as written and never becomes markup, a link or HTML.
std::string md_escape(const std::string& s);

/// A CSV text cell that a spreadsheet will not run as a formula: control characters as
/// escapes (printable(), so `cat runs.csv` is safe too), then text starting with = + - @, a
/// tab or CR gets a leading ' (OWASP's advice), except a plain number ("-0.25"), which stays a
/// number.
std::string csv_text(const std::string& s);

}  // namespace moedil::report
