//! CSV for the reports finance opens in a spreadsheet (RFC 4180: comma-separated, fields with
//! a comma, quote or line break quoted, quotes doubled, CRLF line ends).

/// One record.
pub fn row<S: AsRef<str>>(fields: &[S]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::row;

    #[test]
    fn fields_that_need_it_are_quoted() {
        assert_eq!(row(&["a", "b c", "1.50"]), "a,b c,1.50\r\n");
        assert_eq!(
            row(&["x,y", "say \"hi\"", "two\nlines"]),
            "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
        assert_eq!(row::<&str>(&[]), "\r\n");
    }
}
