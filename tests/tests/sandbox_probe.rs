use sandglass_tests::{
    component,
    sandbox::{load, start_run},
};

#[test]
fn probe() {
    let (sandbox, module) = load(
        &component("sandglass-hostile-workflows"),
        Default::default(),
    );
    for ty in module.workflow_types().to_vec() {
        let start = std::time::Instant::now();
        let out = start_run(&sandbox, &module, &ty, 7);
        let text = match out {
            Ok(cmds) => format!(
                "OK {:?}",
                cmds.iter()
                    .map(|c| format!("{c:?}").chars().take(200).collect::<String>())
                    .collect::<Vec<_>>()
            ),
            Err(e) => format!("ERR {e}"),
        };
        println!("=== {ty} ({:?}): {}", start.elapsed(), text);
    }
}
