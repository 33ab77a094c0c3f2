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
            check_git_url(url)?;
            let reference = [
                ("branch", &args.branch),
                ("tag", &args.tag),
                ("rev", &args.rev),
            ]
            .into_iter()
            .find_map(|(key, value)| value.clone().map(|value| (key, value)));
            if let Some((key, value)) = &reference {
                ensure!(
                    !value.trim().is_empty(),
                    "--{key} is empty; give a {key} or leave it out"
                );
            }
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
                ensure!(
                    !in_cargo_cache,
                    "this `sandglass` was built in cargo's cache ({}), which cargo may clean; \
                     say where Sandglass is with --path <checkout> or --git <repository>",
                    built_from.display()
                );
                if !is_checkout(&built_from) {
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

    /// How the generated README starts a dev server with the `sandglass` binary, as
    /// shell commands.
    fn dev_server_command(&self) -> String {
        match self {
            Self::Path(root) => format!(
                "cargo run --manifest-path {} -p sandglass-host --bin sandglass \\\n    -- dev-server",
                shell_quote(&root.join("Cargo.toml").to_string_lossy())
            ),
            Self::Git { url, reference } => {
                let reference = reference
                    .as_ref()
                    .map(|(key, value)| format!(" --{key} {}", shell_quote(value)))
                    .unwrap_or_default();
                format!(
                    "cargo install --git {}{reference} sandglass-host --bin sandglass\nsandglass dev-server",
                    shell_quote(url)
                )
            }
        }
    }
}

pub(crate) fn run(args: NewArgs) -> anyhow::Result<()> {
    ensure!(
        !args.dir.as_os_str().is_empty(),
        "give the directory to create, such as `sandglass new ../my-app`"
    );
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

/// Cargo takes a git dependency only by URL: `https://…`, `ssh://…`, `file://…`.
fn check_git_url(url: &str) -> anyhow::Result<()> {
    if url.contains("://") {
        return Ok(());
    }
    if let Some((user_host, path)) = url.split_once(':')
        && user_host.contains('@')
    {
        bail!(
            "cargo does not take scp-style git addresses like {url:?}; write it as \
             \"ssh://{user_host}/{path}\""
        );
    }
    if Path::new(url).is_dir() {
        bail!("{url:?} is a directory, not a git URL; for a local checkout use --path {url}");
    }
    bail!("{url:?} is not a git URL; cargo needs one such as https://host/owner/sandglass.git")
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

/// Writes the app into `dir`, which must not exist or be empty. Each file is created
/// new (`create_new`: nothing there, not even a link, is followed or replaced), and a
/// failure removes what this call made, so it leaves no half-made app. An existing
/// empty `dir` is kept, with its permissions, and filled.
fn create(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    let made_dir = match std::fs::symlink_metadata(dir) {
        Ok(_) if !dir.exists() => {
            bail!(
                "{} is a broken symbolic link; remove it or choose another directory",
                dir.display()
            )
        }
        Ok(_) => {
            let mut entries = std::fs::read_dir(dir).with_context(|| {
                format!("{} exists and is not a readable directory", dir.display())
            })?;
            ensure!(
                entries.next().is_none(),
                "{} exists and is not empty; choose a new directory",
                dir.display()
            );
            false
        }
        Err(_) => {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
            true
        }
    };
    let mut made = Vec::new();
    let written = write_all(dir, files, &mut made);
    if written.is_err() {
        if made_dir {
            let _ = std::fs::remove_dir_all(dir);
        } else {
            // Newest first: files before the directories that hold them.
            for path in made.iter().rev() {
                let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir(path));
            }
        }
    }
    written
}

/// Writes `files` below `root`, recording in `made` each file and directory it creates.
fn write_all(
    root: &Path,
    files: &[(String, String)],
    made: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    for (path, text) in files {
        let path = root.join(path);
        let mut missing: Vec<&Path> = path
            .ancestors()
            .skip(1)
            .take_while(|dir| *dir != root && !dir.exists())
            .collect();
        missing.reverse();
        for dir in missing {
            std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
            made.push(dir.to_path_buf());
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        made.push(path.clone());
        std::io::Write::write_all(&mut file, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `text` as one shell word: bare if it is plainly safe, else in single quotes.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@+=,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
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
    fn an_empty_directory_is_kept_and_a_failure_leaves_it_empty() {
        use std::os::unix::fs::PermissionsExt;

        let root = std::env::temp_dir().join(format!("sandglass-new-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let app = root.join("app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o700)).unwrap();
        let files = vec![
            ("a/b.txt".to_owned(), "b".to_owned()),
            ("c.txt".to_owned(), "c".to_owned()),
        ];
        create(&app, &files).unwrap();
        assert_eq!(std::fs::read_to_string(app.join("a/b.txt")).unwrap(), "b");
        let mode = std::fs::metadata(&app).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the directory was replaced");

        let other = vec![("c.txt".to_owned(), "overwritten".to_owned())];
        assert!(
            create(&app, &other).is_err(),
            "a full directory was written again"
        );
        assert_eq!(std::fs::read_to_string(app.join("c.txt")).unwrap(), "c");

        // The second file collides with the first: everything made is removed again.
        let empty = root.join("empty");
        std::fs::create_dir(&empty).unwrap();
        let colliding = vec![
            ("x/y.txt".to_owned(), "1".to_owned()),
            ("x/y.txt".to_owned(), "2".to_owned()),
        ];
        assert!(create(&empty, &colliding).is_err());
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "debris left");
        let fresh = root.join("fresh");
        assert!(create(&fresh, &colliding).is_err());
        assert!(!fresh.exists(), "a half-made app was left");

        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        let error = create(&root.join("dangling"), &files)
            .unwrap_err()
            .to_string();
        assert!(error.contains("broken symbolic link"), "{error}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn git_sources_must_be_urls_cargo_takes() {
        check_git_url("https://example.com/sandglass.git").unwrap();
        check_git_url("ssh://git@example.com/org/sandglass.git").unwrap();
        let scp = check_git_url("git@github.com:org/sandglass.git")
            .unwrap_err()
            .to_string();
        assert!(
            scp.contains("ssh://git@github.com/org/sandglass.git"),
            "{scp}"
        );
        assert!(check_git_url("").is_err());
        assert!(
            check_git_url("/")
                .unwrap_err()
                .to_string()
                .contains("--path")
        );
        assert_eq!(shell_quote("/opt/sand glass"), "'/opt/sand glass'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("/opt/sandglass"), "/opt/sandglass");
    }
}
