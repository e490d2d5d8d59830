//! A workspace dropped into a module-era fork is part of the fork's Go module: any `.go` file
//! outside a `testdata/` directory would become a package of the fork and break `go build ./...`.

use std::path::{Path, PathBuf};

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            // Go skips testdata/ and directories starting with `.` or `_`; target/ is build output.
            if name == "testdata" || name == "target" || name.starts_with(['.', '_']) {
                continue;
            }
            walk(&path, found);
        } else if name.ends_with(".go") {
            found.push(path);
        }
    }
}

#[test]
fn no_go_file_outside_testdata() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut found = Vec::new();
    walk(workspace, &mut found);
    assert!(
        found.is_empty(),
        "Go files outside testdata/ would join a module-era fork's `go build ./...`: {found:?}"
    );
}
