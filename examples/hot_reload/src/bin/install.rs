//! `hot-reload-install v1|v2`: builds that version of the workflow crate and puts it in
//! the worker's directory. A running worker picks it up within a second.

fn main() -> anyhow::Result<()> {
    let version = std::env::args().nth(1).unwrap_or_else(|| "v1".to_owned());
    let dir = hot_reload_example::workflow_dir();
    let path = hot_reload_example::install(&version, &dir)?;
    println!("installed {version} as {}", path.display());
    Ok(())
}
