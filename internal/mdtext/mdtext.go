// Package mdtext writes text from elsewhere (verifier lines, reasons, names from users' objects)
// into Markdown tables: the one place that knows what such text must not carry there.
package mdtext

import "strings"

// cell replaces what would end a table row or a cell (line breaks, a pipe) and what a Markdown
// renderer would read as HTML ("<" in a verifier's R1 type=ptr_<...>).
var cell = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`, "<", "&lt;")

// Cell returns s as one Markdown table cell.
func Cell(s string) string { return cell.Replace(s) }
