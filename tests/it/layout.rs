//! The house keeps its layout: `src/lib.rs` lists the rooms of the crate in
//! order, and a room's code names (`crate::room`) only rooms listed above
//! it. A new import that points the other way fails here, naming the file,
//! the line and both rooms. No file in `src/` includes one from elsewhere
//! with `#[path]` (a test's server, say): its tests live in `tests/it/`.

use std::path::{Path, PathBuf};

/// The rooms in the order `src/lib.rs` lists them: its doc lines of the
/// form ``//! - `room/` …`` or ``//! - `room` …``.
fn rooms(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! - `"))
        .filter_map(|l| l.split('`').next())
        .map(|r| r.trim_end_matches('/').to_string())
        .collect()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The room a file belongs to: its first component below `src/`.
fn room_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::room` a line of code names (comments left out).
fn named(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or_default();
    code.match_indices("crate::")
        .filter(|(at, _)| !code[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(at, m)| {
            let rest = &code[at + m.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn every_import_points_to_a_room_listed_above() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rooms = rooms(&src);
    assert!(rooms.len() >= 8, "src/lib.rs lists no layout: {rooms:?}");
    let rank = |r: &str| rooms.iter().position(|x| x == r);
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    for file in all
        .iter()
        .filter(|f| !f.ends_with("main.rs") && !f.ends_with("lib.rs"))
    {
        let room = room_of(&src, file);
        let shown = file.strip_prefix(src.parent().unwrap()).unwrap().display();
        let Some(own) = rank(&room) else {
            wrong.push(format!(
                "{}: room `{room}` is not listed in src/lib.rs",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for to in named(line) {
                match rank(to) {
                    Some(r) if r < own || to == room => {}
                    Some(_) => wrong.push(format!(
                        "{shown}:{}: `{room}` imports `{to}`, listed below it",
                        n + 1
                    )),
                    None => wrong.push(format!(
                        "{shown}:{}: `{to}` is not a room src/lib.rs lists",
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_source_file_includes_a_file_from_elsewhere() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    for file in &all {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("#[path") {
                let shown = file.strip_prefix(src.parent().unwrap()).unwrap();
                wrong.push(format!("{}:{}: {}", shown.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(wrong.is_empty(), "`#[path]` in src/:\n{}", wrong.join("\n"));
}

/// The web page sits below the engine it starts and the `snatch new` it
/// writes through, and above the command line that names its flags.
#[test]
fn the_web_page_is_listed_below_run_and_new_and_above_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rooms = rooms(&src);
    let at = |r: &str| {
        rooms
            .iter()
            .position(|x| x == r)
            .unwrap_or_else(|| panic!("src/lib.rs lists no `{r}`: {rooms:?}"))
    };
    assert!(at("run") < at("ui") && at("new") < at("ui"), "{rooms:?}");
    assert!(at("ui") < at("cli"), "{rooms:?}");
}
