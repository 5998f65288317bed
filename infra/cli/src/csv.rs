//! CSV for the reports finance opens in a spreadsheet, written by the `csv` crate (RFC 4180:
//! comma-separated, fields with a comma, quote or line break quoted, quotes doubled, CRLF line
//! ends, as spreadsheets expect).

/// One record, with its line end: reports are built a row at a time, and a row per call keeps
/// each report's columns beside the values that fill them.
pub fn row<S: AsRef<str>>(fields: &[S]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record(fields.iter().map(|f| f.as_ref().as_bytes()))
        .expect("one record written to memory cannot fail");
    let bytes = writer.into_inner().expect("flushing to memory cannot fail");
    String::from_utf8(bytes).expect("fields that were text stay text")
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
    }

    /// A store name or reason with a comma, a quote and a line break stays one field, read back
    /// whole by a standard reader.
    #[test]
    fn hostile_fields_read_back_whole() {
        let fields = [
            "us",
            "Shirts, \"Navy\"\nsecond line",
            "\r\n",
            "",
            " padded ",
        ];
        let text = [
            row(&["store", "reason", "crlf", "empty", "padded"]),
            row(&fields),
        ]
        .concat();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 1, "{text:?}");
        assert_eq!(records[0].iter().collect::<Vec<_>>(), fields);
    }
}
