//! Checking command output against Docker's formats.
//!
//! Docker prints tables through Go's `text/tabwriter` with minwidth 10,
//! tabwidth 1, padding 3 and space padding. Column widths therefore depend
//! on the data, so a test cannot hard-code the header line; instead
//! [`assert_table`] splits the output into cells and re-renders them with a
//! port of tabwriter's algorithm: any difference in spacing is a real
//! incompatibility with scripts that parse `docker` output.

/// Docker's table settings (`cli/command/formatter`): minwidth, padding.
pub const DOCKER_MINWIDTH: usize = 10;
pub const DOCKER_PADDING: usize = 3;

/// Renders rows of cells exactly as Docker's tabwriter would. Each row is
/// the cells of one line; every cell but the last is tab-terminated in
/// Docker's templates, the last is trailing text and never padded.
pub fn render_table<R: AsRef<[S]>, S: AsRef<str>>(rows: &[R]) -> String {
    let lines: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.as_ref().iter().map(|c| c.as_ref()).collect())
        .collect();
    tabwrite(&lines, DOCKER_MINWIDTH, DOCKER_PADDING)
}

/// Go's `text/tabwriter` (flags 0, padchar ' ') over pre-split lines.
/// Includes its column *blocks*: a column's width is computed only over the
/// run of consecutive lines that have that column, and a line without any
/// tab ends the table (tabwriter flushes there).
pub fn tabwrite(lines: &[Vec<&str>], minwidth: usize, padding: usize) -> String {
    let mut out = String::new();
    let mut start = 0;
    for (i, l) in lines.iter().enumerate() {
        if l.len() <= 1 {
            format_block(&lines[start..i], minwidth, padding, &mut out);
            out.push_str(l.first().copied().unwrap_or(""));
            out.push('\n');
            start = i + 1;
        }
    }
    format_block(&lines[start..], minwidth, padding, &mut out);
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn format_block(lines: &[Vec<&str>], minwidth: usize, padding: usize, out: &mut String) {
    let mut widths = Vec::new();
    format(lines, 0, lines.len(), &mut widths, minwidth, padding, out);
}

/// Direct port of `(*Writer).format`.
fn format(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    minwidth: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut w = minwidth;
        while this < line1 && column + 1 < lines[this].len() {
            w = w.max(width(lines[this][column]) + padding);
            this += 1;
        }
        widths.push(w);
        format(lines, line0, this, widths, minwidth, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(
    lines: &[Vec<&str>],
    line0: usize,
    line1: usize,
    widths: &[usize],
    out: &mut String,
) {
    for line in &lines[line0..line1] {
        for (j, c) in line.iter().enumerate() {
            out.push_str(c);
            if j < widths.len() {
                out.extend(std::iter::repeat_n(' ', widths[j].saturating_sub(width(c))));
            }
        }
        out.push('\n');
    }
}

/// Column start offsets (in chars) of `header`, found by locating each of
/// `cols` in order. Panics if a column is missing or not separated from the
/// previous one by at least two spaces.
pub fn column_starts(header: &str, cols: &[&str]) -> Vec<usize> {
    let chars: Vec<char> = header.chars().collect();
    let mut starts = Vec::new();
    let mut pos = 0;
    for (i, col) in cols.iter().enumerate() {
        let want: Vec<char> = col.chars().collect();
        let found = (pos..=chars.len().saturating_sub(want.len())).find(|&s| {
            chars[s..].starts_with(&want)
                && (i == 0 || (s >= pos + 2 && chars[s - 2..s].iter().all(|c| *c == ' ')))
        });
        let Some(s) = found else {
            panic!("table header {header:?} lacks column {col:?} (expected columns {cols:?})");
        };
        if i == 0 {
            assert_eq!(s, 0, "table header {header:?} must start with {col:?}");
        }
        starts.push(s);
        pos = s + want.len();
    }
    let last_end = starts.last().map_or(0, |s| s + width(cols[cols.len() - 1]));
    assert!(
        chars[last_end..].iter().all(|c| *c == ' '),
        "table header {header:?} has more than the expected columns {cols:?}"
    );
    starts
}

/// Splits a table line into cells at `starts`, trimming the padding.
pub fn split_row(line: &str, starts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let e = starts
                .get(i + 1)
                .copied()
                .unwrap_or(chars.len())
                .min(chars.len());
            let s = s.min(chars.len());
            chars[s..e]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
}

/// Asserts `actual` is a Docker-style table whose header has exactly the
/// columns `header_cols` (e.g. `["REPOSITORY", "TAG", "IMAGE ID",
/// "CREATED", "SIZE"]`) and whose spacing is exactly what Docker's
/// tabwriter produces for those cells. Returns the data rows' cells.
pub fn assert_table(actual: &str, header_cols: &[&str]) -> Vec<Vec<String>> {
    let mut lines = actual.lines();
    let header = lines.next().unwrap_or_else(|| {
        panic!("expected a table with columns {header_cols:?}, got empty output")
    });
    let starts = column_starts(header, header_cols);
    let rows: Vec<Vec<String>> = lines.map(|l| split_row(l, &starts)).collect();
    let mut all = vec![header_cols
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()];
    all.extend(rows.iter().cloned());
    let expected = render_table(&all);
    assert_lines_eq(actual, &expected);
    rows
}

/// [`assert_table`] and also compare the cells to `expected_rows`.
pub fn assert_table_rows<R: AsRef<[S]>, S: AsRef<str>>(
    actual: &str,
    header_cols: &[&str],
    expected_rows: &[R],
) {
    assert_table(actual, header_cols);
    let mut all = vec![header_cols
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()];
    all.extend(
        expected_rows
            .iter()
            .map(|r| r.as_ref().iter().map(|c| c.as_ref().to_string()).collect()),
    );
    assert_lines_eq(actual, &render_table(&all));
}

/// Asserts two multi-line strings are equal, panicking with a line diff
/// (`-` expected, `+` actual) instead of two walls of text. A missing final
/// newline is reported too, since scripts notice it.
pub fn assert_lines_eq(actual: &str, expected: &str) {
    if actual == expected {
        return;
    }
    let a: Vec<&str> = actual.lines().collect();
    let e: Vec<&str> = expected.lines().collect();
    let mut msg = String::from("output differs (- expected, + actual):\n");
    for d in line_diff(&e, &a) {
        msg.push_str(&d);
        msg.push('\n');
    }
    if a == e {
        msg.push_str(&format!(
            "(lines equal; trailing newline/line-ending differs: expected {:?}, actual {:?})\n",
            expected.chars().rev().take(2).collect::<String>(),
            actual.chars().rev().take(2).collect::<String>(),
        ));
    }
    panic!("{msg}");
}

/// LCS line diff; outputs are small, so the quadratic table is fine.
/// Spaces are shown as `·` on changed lines: alignment is usually the bug.
pub fn line_diff(old: &[&str], new: &[&str]) -> Vec<String> {
    let (n, m) = (old.len(), new.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let vis = |s: &str| s.replace(' ', "·");
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out.push(format!("  {}", old[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", vis(old[i])));
            i += 1;
        } else {
            out.push(format!("+ {}", vis(new[j])));
            j += 1;
        }
    }
    out
}

/// Non-empty lines of `s`, trimmed: for `-q` outputs (one ID per line).
pub fn ids(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_images_header_matches_docker() {
        // Docker's empty `docker images` output, byte for byte.
        let header = render_table(&[["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]]);
        assert_eq!(header, "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n");
        // With a row, widths grow to the widest cell plus padding 3.
        let t = render_table(&[
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            [
                "busybox",
                "latest",
                "0123456789ab",
                "17 minutes ago",
                "4.26MB",
            ],
        ]);
        assert_eq!(
            t,
            "REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\n\
             busybox      latest    0123456789ab   17 minutes ago   4.26MB\n"
        );
    }

    #[test]
    fn docker_ps_with_empty_cells_and_unicode() {
        let t = render_table(&[
            [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ],
            [
                "4f1c2a3b5d6e",
                "busybox",
                "\"sleep 1000…\"",
                "2 seconds ago",
                "Up 1 second",
                "",
                "web",
            ],
        ]);
        assert_eq!(
            t,
            "CONTAINER ID   IMAGE     COMMAND         CREATED         STATUS        PORTS     NAMES\n\
             4f1c2a3b5d6e   busybox   \"sleep 1000…\"   2 seconds ago   Up 1 second             web\n"
        );
        let rows = assert_table(
            &t,
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ],
        );
        assert_eq!(rows[0][2], "\"sleep 1000…\"");
        assert_eq!(rows[0][5], "");
        assert_eq!(rows[0][6], "web");
    }

    #[test]
    fn assert_table_rejects_bad_spacing() {
        let good = "REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\n\
                    busybox      latest    0123456789ab   17 minutes ago   4.26MB\n";
        let cols = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];
        let rows = assert_table(good, &cols);
        assert_eq!(
            rows,
            [[
                "busybox",
                "latest",
                "0123456789ab",
                "17 minutes ago",
                "4.26MB"
            ]]
        );
        assert_table_rows(
            good,
            &cols,
            &[[
                "busybox",
                "latest",
                "0123456789ab",
                "17 minutes ago",
                "4.26MB",
            ]],
        );
        // Two spaces of padding instead of three.
        let bad = "REPOSITORY  TAG       IMAGE ID      CREATED         SIZE\n\
                   busybox     latest    0123456789ab  17 minutes ago  4.26MB\n";
        let err = std::panic::catch_unwind(|| assert_table(bad, &cols)).expect_err("bad spacing");
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("- REPOSITORY···TAG"), "{msg}");
        assert!(msg.contains("+ REPOSITORY··TAG"), "{msg}");
        // A missing column is named.
        let err = std::panic::catch_unwind(|| assert_table("REPOSITORY   TAG\n", &cols))
            .expect_err("missing");
        assert!(err
            .downcast_ref::<String>()
            .unwrap()
            .contains("lacks column \"IMAGE ID\""));
    }

    #[test]
    fn tabwriter_blocks_and_single_cell_lines() {
        let t = tabwrite(
            &[
                vec!["a", "b"],
                vec!["ccccccccccccc", "d"],
                vec!["plain"],
                vec!["e", "f"],
            ],
            DOCKER_MINWIDTH,
            DOCKER_PADDING,
        );
        assert_eq!(
            t,
            "a               b\nccccccccccccc   d\nplain\ne         f\n"
        );
    }

    #[test]
    fn line_diff_output() {
        let err = std::panic::catch_unwind(|| assert_lines_eq("a\nb x\nc\n", "a\nb  x\nc\n"))
            .unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert_eq!(
            msg,
            "output differs (- expected, + actual):\n  a\n- b··x\n+ b·x\n  c\n"
        );
        let err = std::panic::catch_unwind(|| assert_lines_eq("a", "a\n")).unwrap_err();
        assert!(err
            .downcast_ref::<String>()
            .unwrap()
            .contains("trailing newline"));
        assert_eq!(ids("abc\n\n def \n"), ["abc", "def"]);
    }
}
