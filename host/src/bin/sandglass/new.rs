//! `sandglass new`: a new app outside this repository, in the shape of the Python SDK
//! guide's app (activities, workflows, worker, starter), depending on Sandglass by path
//! or git since its crates are not published.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};

/// The template's files, by path in the app; `{{...}}` placeholders are filled in.
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("template/Cargo.toml")),
    (".gitignore", include_str!("template/gitignore")),
    ("README.md", include_str!("template/README.md")),
    ("src/lib.rs", include_str!("template/src/lib.rs")),
    (
        "src/bin/worker.rs",
        include_str!("template/src/bin/worker.rs"),
    ),
    (
        "src/bin/starter.rs",
        include_str!("template/src/bin/starter.rs"),
    ),
    (
        "activities/Cargo.toml",
        include_str!("template/activities/Cargo.toml"),
    ),
    (
        "activities/src/lib.rs",
        include_str!("template/activities/src/lib.rs"),
    ),
    (
        "workflows/Cargo.toml",
        include_str!("template/workflows/Cargo.toml"),
    ),
    (
        "workflows/src/lib.rs",
        include_str!("template/workflows/src/lib.rs"),
    ),
];

/// Longest app name taken: it becomes crate names, a task queue and an environment
/// variable.
const MAX_NAME_LEN: usize = 64;

/// Names the app's crates cannot take: Rust's keywords (the crate name is used in
/// `use` paths), the crates the app depends on, and names cargo or Windows refuse.
#[rustfmt::skip]
const RESERVED_NAMES: &[&str] = &[
    // Crates of the app's own dependency graph and of the standard library.
    "sandglass", "sandglass-host", "sandglass-declare", "anyhow", "tokio", "uuid", "core",
    "std", "alloc", "proc-macro", "test",
    // Keywords, strict and reserved, of edition 2024.
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
    "true", "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
    // Windows device names.
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "lpt1", "lpt2", "lpt3",
];

#[derive(clap::Args)]
pub(crate) struct NewArgs {
    /// Directory to create the app in; it must not exist, or be empty.
    dir: PathBuf,
    /// The app's name: its package, task queue and crate prefix (default: the
    /// directory's name). Lowercase letters, digits and `-`, starting with a letter.
    #[arg(long)]
    name: Option<String>,
    /// Depend on the Sandglass checkout at this path (default: the checkout this
    /// binary was built from, if it is still there).
    #[arg(long, conflicts_with = "git")]
    path: Option<PathBuf>,
    /// Depend on Sandglass from this git repository instead.
    #[arg(long)]
    git: Option<String>,
    /// With --git: the branch to use.
    #[arg(long, requires = "git", conflicts_with_all = ["tag", "rev"])]
    branch: Option<String>,
    /// With --git: the tag to use.
    #[arg(long, requires = "git", conflicts_with = "rev")]
    tag: Option<String>,
    /// With --git: the commit to use.
    #[arg(long, requires = "git")]
    rev: Option<String>,
}

/// Where the app's Sandglass crates come from.
enum Source {
    /// A checkout; its `Cargo.lock` seeds the app's, so the app builds with the
    /// dependency versions Sandglass was tested with.
    Path(PathBuf),
    /// A git repository, with `branch`, `tag` or `rev` as `(key, value)`.
    Git {
        url: String,
        reference: Option<(&'static str, String)>,
    },
}

impl Source {
    fn from_args(args: &NewArgs) -> anyhow::Result<Self> {
        if let Some(url) = &args.git {
            let reference = [
                ("branch", &args.branch),
                ("tag", &args.tag),
                ("rev", &args.rev),
            ]
            .into_iter()
            .find_map(|(key, value)| value.clone().map(|value| (key, value)));
            return Ok(Self::Git {
                url: url.clone(),
                reference,
            });
        }
        let root = match &args.path {
            Some(path) => path.clone(),
            None => {
                let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
                // `cargo install --git` builds in cargo's own cache, which it may clean.
                let in_cargo_cache = built_from
                    .to_str()
                    .is_some_and(|path| path.contains("/git/checkouts/"));
                if in_cargo_cache || !is_checkout(&built_from) {
                    bail!(
                        "this `sandglass` was built from {}, which is no longer a Sandglass \
                         checkout; say where Sandglass is with --path <checkout> or \
                         --git <repository>",
                        built_from.display()
                    );
                }
                built_from
            }
        };
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot find the Sandglass checkout {}", root.display()))?;
        ensure!(
            is_checkout(&root),
            "{} is not a Sandglass checkout (it has no host/ and guest-sdk/ crates); pass \
             the directory that holds Sandglass's workspace Cargo.toml",
            root.display()
        );
        Ok(Self::Path(root))
    }

    /// The dependency table for the crate in `dir` of the Sandglass repository.
    fn dependency(&self, dir: &str) -> anyhow::Result<String> {
        Ok(match self {
            Self::Path(root) => {
                let path = root.join(dir);
                let path = path
                    .to_str()
                    .with_context(|| format!("{} is not valid UTF-8", path.display()))?;
                format!("{{ path = {} }}", toml_string(path)?)
            }
            Self::Git { url, reference } => {
                let mut table = format!("{{ git = {}", toml_string(url)?);
                if let Some((key, value)) = reference {
                    table.push_str(&format!(", {key} = {}", toml_string(value)?));
                }
                table.push_str(" }");
                table
            }
        })
    }

    /// How the generated README refers to Sandglass.
    fn describe(&self) -> String {
        match self {
            Self::Path(root) => format!("the Sandglass checkout at `{}`", root.display()),
            Self::Git { url, .. } => format!("the Sandglass repository `{url}`"),
        }
    }

    /// How the generated README starts a dev server with the `sandglass` binary.
    fn dev_server_command(&self) -> String {
        match self {
            Self::Path(root) => format!(
                "cargo run --manifest-path {}/Cargo.toml -p sandglass-host --bin sandglass \\\n    -- dev-server",
                root.display()
            ),
            Self::Git { url, .. } => format!(
                "cargo install --git {url} sandglass-host --bin sandglass\nsandglass dev-server"
            ),
        }
    }
}

pub(crate) fn run(args: NewArgs) -> anyhow::Result<()> {
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("cannot resolve {}", args.dir.display()))?;
    ensure!(
        matches!(
            dir.components().next_back(),
            Some(std::path::Component::Normal(_))
        ),
        "{} does not name a new directory; give one, such as `sandglass new ../my-app`",
        args.dir.display()
    );
    let name = match &args.name {
        Some(name) => name.clone(),
        None => dir
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
            .with_context(|| format!("cannot name the app after {}; pass --name", dir.display()))?,
    };
    check_name(&name)?;
    let source = Source::from_args(&args)?;
    let mut files = render(&name, &source)?;
    if let Source::Path(root) = &source {
        // A lockfile of another workspace is a fine start: cargo drops what the app
        // does not use and keeps the versions of what it does.
        if let Ok(lock) = std::fs::read_to_string(root.join("Cargo.lock")) {
            files.push(("Cargo.lock".to_owned(), lock));
        }
    }
    create(&dir, &files)?;
    println!(
        "created {name} in {}\n\nits README.md says how to run it: a Temporal server on \
         localhost:7233, then `cargo run --bin worker` in that directory and, in another \
         terminal there, `cargo run --bin starter`",
        dir.display()
    );
    Ok(())
}

fn is_checkout(root: &Path) -> bool {
    ["host", "guest-sdk", "guest-sdk/declare"]
        .iter()
        .all(|dir| root.join(dir).join("Cargo.toml").is_file())
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let well_formed = name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    ensure!(
        well_formed,
        "{name:?} cannot name an app: use up to {MAX_NAME_LEN} lowercase letters, digits and \
         single dashes, starting with a letter (pass --name to choose one)"
    );
    ensure!(
        !RESERVED_NAMES.contains(&name),
        "{name:?} is taken by Rust or Sandglass; pass --name with another"
    );
    Ok(())
}

/// The template's files with the placeholders filled in.
fn render(name: &str, source: &Source) -> anyhow::Result<Vec<(String, String)>> {
    let values = [
        ("name", name.to_owned()),
        ("crate", name.replace('-', "_")),
        ("env", name.replace('-', "_").to_ascii_uppercase()),
        ("sandglass", source.dependency("guest-sdk")?),
        ("sandglass_declare", source.dependency("guest-sdk/declare")?),
        ("sandglass_host", source.dependency("host")?),
        ("source", source.describe()),
        ("dev_server", source.dev_server_command()),
    ];
    TEMPLATE
        .iter()
        .map(|(path, text)| Ok(((*path).to_owned(), fill(text, &values)?)))
        .collect()
}

/// `text` with each `{{key}}` replaced by its value in one pass, so that a value
/// holding `{{...}}` (a path, a URL) is copied as it is, never expanded.
fn fill(text: &str, values: &[(&str, String)]) -> anyhow::Result<String> {
    let mut filled = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        filled.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .context("the template has an unclosed placeholder")?;
        let key = &after[..end];
        let (_, value) = values
            .iter()
            .find(|(known, _)| *known == key)
            .with_context(|| format!("the template has an unknown placeholder {key:?}"))?;
        filled.push_str(value);
        rest = &after[end + 2..];
    }
    filled.push_str(rest);
    Ok(filled)
}

/// Writes the app into a staging directory beside `dir` and moves it into place, so that
/// a failure leaves no half-made app (parent directories it had to create stay) and an
/// existing app is never overwritten. An existing empty `dir` is kept, with its
/// permissions, and filled.
fn create(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("{} exists and is not a readable directory", dir.display()))?;
        ensure!(
            entries.next().is_none(),
            "{} exists and is not empty; choose a new directory",
            dir.display()
        );
    }
    let parent = dir.parent().context("the app needs a parent directory")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = parent.join(format!(".sandglass-new-{}", std::process::id()));
    // `create_dir`, not `create_dir_all`: it refuses a directory or a link already there,
    // so nobody can point the staging directory at files of theirs.
    std::fs::create_dir(&staging)
        .with_context(|| format!("creating the staging directory {}", staging.display()))?;
    let written = write_all(&staging, files).and_then(|()| move_into_place(&staging, dir));
    let _ = std::fs::remove_dir_all(&staging);
    written
}

fn move_into_place(staging: &Path, dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return std::fs::rename(staging, dir)
            .with_context(|| format!("moving the new app to {}", dir.display()));
    }
    for entry in std::fs::read_dir(staging)? {
        let entry = entry?;
        std::fs::rename(entry.path(), dir.join(entry.file_name()))
            .with_context(|| format!("moving the new app into {}", dir.display()))?;
    }
    Ok(())
}

fn write_all(root: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    for (path, text) in files {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> anyhow::Result<String> {
    ensure!(
        !text.chars().any(char::is_control),
        "{text:?} has control characters, which a Cargo.toml cannot hold"
    );
    Ok(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_crate_names_or_are_refused() {
        for good in ["hello", "hello-app", "a1"] {
            check_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "",
            "Hello",
            "1app",
            "app-",
            "a--b",
            "a_b",
            "a b",
            "sandglass",
            "std",
            "fn",
            "gen",
            "tokio",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} was taken");
        }
        assert!(check_name(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn every_placeholder_is_filled_and_paths_are_quoted() {
        let source = Source::Path(PathBuf::from("/opt/sand \"glass\"\\x"));
        for (path, text) in render("hello-app", &source).unwrap() {
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
        }
        assert_eq!(
            source.dependency("host").unwrap(),
            r#"{ path = "/opt/sand \"glass\"\\x/host" }"#
        );
        let sneaky = Source::Path(PathBuf::from("/opt/{{source}}"));
        let files = render("hello-app", &sneaky).unwrap();
        let manifest = &files
            .iter()
            .find(|(path, _)| path == "Cargo.toml")
            .unwrap()
            .1;
        assert!(
            manifest.contains(r#"{ path = "/opt/{{source}}/host" }"#),
            "{manifest}"
        );
        let git = Source::Git {
            url: "https://example.com/sandglass.git".into(),
            reference: Some(("branch", "main".into())),
        };
        assert_eq!(
            git.dependency("host").unwrap(),
            r#"{ git = "https://example.com/sandglass.git", branch = "main" }"#
        );
        assert!(toml_string("a\nb").is_err());
    }

    #[test]
    fn an_empty_directory_is_filled_and_a_planted_staging_directory_refused() {
        let root = std::env::temp_dir().join(format!("sandglass-new-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let app = root.join("app");
        std::fs::create_dir_all(&app).unwrap();
        let files = vec![("a/b.txt".to_owned(), "b".to_owned())];
        create(&app, &files).unwrap();
        assert_eq!(std::fs::read_to_string(app.join("a/b.txt")).unwrap(), "b");
        assert!(
            create(&app, &files).is_err(),
            "a full directory was written again"
        );

        let other = root.join("other");
        std::fs::create_dir(root.join(format!(".sandglass-new-{}", std::process::id()))).unwrap();
        assert!(
            create(&other, &files).is_err(),
            "a planted staging directory was used"
        );
        assert!(!other.exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
