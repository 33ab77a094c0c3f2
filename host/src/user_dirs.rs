//! Where Sandglass keeps files for the user running it: compiled code (a cache) and
//! activated modules (data), under the XDG base directories, each movable by a variable.

use std::path::{Path, PathBuf};

/// `$<variable>` if set (`None` if it is `off`), else `$<xdg_variable>/sandglass/<leaf>`,
/// else `~/<home_fallback>/sandglass/<leaf>`; `None` if no home directory is known.
pub(crate) fn user_dir(
    variable: &str,
    xdg_variable: &str,
    home_fallback: &str,
    leaf: &str,
) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(variable) {
        return (dir != "off").then(|| PathBuf::from(dir));
    }
    let base = std::env::var_os(xdg_variable)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(home_fallback)))?;
    Some(base.join("sandglass").join(leaf))
}
