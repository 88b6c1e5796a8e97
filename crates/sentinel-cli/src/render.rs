//! Plain-text tables for the terminal: columns as wide as their widest cell, the last
//! column never cut (reasons are read in full).

/// `headers` and `rows` as aligned text, one line per row, ending in a newline.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_the_last_is_whole() {
        let text = table(
            &["NAME", "N", "REASON"],
            &[
                vec![
                    "api".into(),
                    "12".into(),
                    "a long reason, kept whole".into(),
                ],
                vec!["checkout".into(), "3".into(), String::new()],
            ],
        );
        assert_eq!(
            text,
            "NAME      N   REASON\napi       12  a long reason, kept whole\ncheckout  3\n"
        );
    }
}
