//! The bars' lines, fitted to the terminal's width: every bar is one line
//! no wider than the terminal. Columns go first (rate, ETA, bytes,
//! retries), then long names are shortened with `…`; names are aligned
//! and every bar has the same length. Pure: rows and a width in, lines out.

use console::measure_text_width as width_of;

/// The longest a bar gets, and the shortest it gets before a column goes.
const BAR_MAX: usize = 30;
const BAR_MIN: usize = 10;
/// Names are not shortened below this many characters (`…` included).
const NAME_MIN: usize = 6;

/// One bar's figures, the optional columns already as text.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub name: String,
    pub done: u64,
    pub total: u64,
    /// `12.3 MiB`
    pub bytes: String,
    /// `4.1 MiB/s`
    pub rate: String,
    /// `2 retries`, empty for none.
    pub retries: String,
    /// `ETA 1m 5s`
    pub eta: String,
}

/// The optional columns, in the order they are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Rate,
    Eta,
    Bytes,
    Retries,
}

const DROP_ORDER: [Column; 4] = [Column::Rate, Column::Eta, Column::Bytes, Column::Retries];

impl Row {
    fn column(&self, c: Column) -> &str {
        match c {
            Column::Bytes => &self.bytes,
            Column::Rate => &self.rate,
            Column::Retries => &self.retries,
            Column::Eta => &self.eta,
        }
    }

    fn counts(&self) -> String {
        format!("{}/{}", self.done, self.total)
    }
}

/// The optional columns in screen order.
const SCREEN_ORDER: [Column; 4] = [Column::Bytes, Column::Rate, Column::Retries, Column::Eta];

/// The columns shown and their widths (the widest row's), in screen order;
/// a column no row has is left out.
fn columns(rows: &[Row], dropped: &[Column]) -> Vec<(Column, usize)> {
    SCREEN_ORDER
        .iter()
        .filter(|c| !dropped.contains(c))
        .map(|&c| {
            (
                c,
                rows.iter()
                    .map(|r| width_of(r.column(c)))
                    .max()
                    .unwrap_or(0),
            )
        })
        .filter(|&(_, w)| w > 0)
        .collect()
}

/// The width the columns take: ` · ` before each.
fn columns_width(columns: &[(Column, usize)]) -> usize {
    columns.iter().map(|(_, w)| w + 3).sum()
}

/// ` · 12.3 MiB ·  4.1 MiB/s · ETA 1m 5s`, each column padded to its
/// width; a row without one (no retries yet) has blanks there.
fn extras(r: &Row, columns: &[(Column, usize)]) -> String {
    let mut out = String::new();
    for &(c, w) in columns {
        let text = r.column(c);
        let pad = " ".repeat(w.saturating_sub(width_of(text)));
        match (c, text.is_empty()) {
            (_, true) => out.push_str(&format!("   {pad}")),
            (Column::Eta | Column::Retries, _) => out.push_str(&format!(" · {text}{pad}")),
            _ => out.push_str(&format!(" · {pad}{text}")),
        }
    }
    out
}

/// What every line shares: the widths and the columns dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    name: usize,
    bar: usize,
    counts: usize,
    columns: Vec<(Column, usize)>,
}

/// Each row's line, at most `width` columns wide.
pub fn lines(rows: &[Row], width: usize) -> Vec<String> {
    let layout = fit(rows, width);
    rows.iter()
        .map(|r| cut(render(r, &layout).trim_end(), width))
        .collect()
}

/// The widest layout that fits: all columns and names whole if it can,
/// then fewer columns, then shorter names, then a shorter bar.
fn fit(rows: &[Row], width: usize) -> Layout {
    let widest = |f: &dyn Fn(&Row) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let name = widest(&|r| width_of(&r.name));
    let counts = widest(&|r| r.counts().len());
    // `name [bar] counts`: 4 columns of brackets and spaces.
    let fixed = |name: usize| name + 4 + counts;
    for n in 0..=DROP_ORDER.len() {
        let columns = columns(rows, &DROP_ORDER[..n]);
        let room = width.saturating_sub(fixed(name) + columns_width(&columns));
        if room >= BAR_MIN {
            let bar = room.min(BAR_MAX);
            return Layout {
                name,
                bar,
                counts,
                columns,
            };
        }
    }
    let short = width
        .saturating_sub(fixed(0) + BAR_MIN)
        .max(NAME_MIN)
        .min(name);
    let bar = width.saturating_sub(fixed(short)).clamp(1, BAR_MAX);
    let columns = Vec::new();
    Layout {
        name: short,
        bar,
        counts,
        columns,
    }
}

/// `   name [=====>    ] 12/30 · 1.2 MiB · ETA 4s`
fn render(r: &Row, l: &Layout) -> String {
    let name = shorten(&r.name, l.name);
    let pad = " ".repeat(l.name.saturating_sub(width_of(&name)));
    format!(
        "{pad}{name} [{}] {:>counts$}{}",
        bar(r.done, r.total, l.bar),
        r.counts(),
        extras(r, &l.columns),
        counts = l.counts
    )
}

/// `=====>    `: `width` characters, filled as far as `done` of `total`.
fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = match total {
        0 => width,
        t => (u128::from(done.min(t)) * width as u128 / u128::from(t)) as usize,
    };
    if filled >= width {
        return "=".repeat(width);
    }
    format!("{}>{}", "=".repeat(filled), " ".repeat(width - filled - 1))
}

/// `name` in at most `max` columns; a shortened one ends in `…`.
fn shorten(name: &str, max: usize) -> String {
    if width_of(name) <= max {
        return name.to_string();
    }
    let mut out = String::new();
    for c in name.chars() {
        if width_of(&format!("{out}{c}")) + 1 > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The last resort on a very narrow terminal: the line cut to `width`.
fn cut(line: &str, width: usize) -> String {
    console::truncate_str(line, width, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name done/total bytes rate retries eta`, columns split at `|`.
    fn row(line: &str) -> Row {
        let f: Vec<&str> = line.split('|').collect();
        let (done, total) = f[1].split_once('/').unwrap_or_default();
        Row {
            name: f[0].into(),
            done: done.parse().unwrap_or_default(),
            total: total.parse().unwrap_or_default(),
            bytes: f[2].into(),
            rate: f[3].into(),
            retries: f[4].into(),
            eta: f[5].into(),
        }
    }

    /// Names of a few characters, and one of 13.
    fn typical() -> Vec<Row> {
        [
            "run|605/653|1.1 GiB|12.5 MiB/s|1 retry|ETA 12s",
            "v|30/30|45.0 MiB|3.2 MiB/s||ETA 0s",
            "lecture-03-hd|112/300|201.3 MiB|8.0 MiB/s|1 retry|ETA 1m 5s",
            "intro|0/323|0 B|0 B/s||ETA ?",
        ]
        .into_iter()
        .map(row)
        .collect()
    }

    /// A name too long for 60 columns.
    fn screen() -> Vec<Row> {
        [
            "run|624/653|1.1 GiB|12.5 MiB/s|3 retries|ETA 12s",
            "v|30/30|45.0 MiB|3.2 MiB/s||ETA 0s",
            "lecture-03-introduction-to-segmented-streams-part-two|12/300|20.1 MiB|800.0 KiB/s|3 retries|ETA 1m 5s",
            "clip-eleven|0/323|0 B|0 B/s||ETA ?",
        ]
        .into_iter()
        .map(row)
        .collect()
    }

    fn shown(width: usize) -> String {
        let ruler = format!("{}| {width} columns", "-".repeat(width));
        let typical = lines(&typical(), width).join("\n");
        let long = lines(&screen(), width).join("\n");
        format!("{ruler}\n{typical}\n\n{long}\n")
    }

    #[test]
    fn bars_fit_60_80_and_120_columns() {
        insta::assert_snapshot!("width_60", shown(60));
        insta::assert_snapshot!("width_80", shown(80));
        insta::assert_snapshot!("width_120", shown(120));
    }

    #[test]
    fn every_line_fits_and_the_bars_line_up() {
        let widths = [1, 10, 20, 30, 40, 60, 80, 120, 200];
        for (width, rows) in widths.iter().flat_map(|&w| [(w, typical()), (w, screen())]) {
            let lines = lines(&rows, width);
            for l in &lines {
                assert!(width_of(l) <= width, "{width}: {l:?}");
            }
            let opens: Vec<_> = lines
                .iter()
                .map(|l| l.find(" [").map(|i| width_of(&l[..i])))
                .collect();
            if width >= 30 {
                assert!(opens.iter().all(|o| *o == opens[0]), "{width}: {lines:#?}");
            }
        }
    }

    #[test]
    fn a_bar_fills_as_segments_arrive() {
        assert_eq!(bar(0, 10, 10), ">         ");
        assert_eq!(bar(5, 10, 10), "=====>    ");
        assert_eq!(bar(10, 10, 10), "==========");
        assert_eq!(bar(0, 0, 4), "====");
        assert_eq!(bar(u64::MAX, u64::MAX, 4), "====");
    }
}
