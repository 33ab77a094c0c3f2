//! Starts the greeting workflow, then queries, updates and signals it, as the Python
//! guide's message-passing sample does, printing what each call returned.

use message_passing_declarations::{
    APPROVE, ApproveInput, GET_LANGUAGE, GET_LANGUAGES, GREETING_WORKFLOW, GetLanguagesInput,
    Language, SET_LANGUAGE, SET_LANGUAGE_USING_ACTIVITY,
};
use message_passing_example::TASK_QUEUE;
use sandglass_host::{Client, ConnectionSettings, WorkflowOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sandglass_host::logging::init("info");
    let client = Client::connect(ConnectionSettings::from_env()?).await?;
    let id = format!("message-passing-{}", uuid::Uuid::new_v4());
    let handle = client
        .start_workflow(GREETING_WORKFLOW, &(), WorkflowOptions::new(id, TASK_QUEUE))
        .await?;

    let supported = handle
        .query(GET_LANGUAGES, &GetLanguagesInput::default())
        .await?;
    println!("Supported languages: {supported:?}");

    let previous = handle
        .execute_update(SET_LANGUAGE, &Language::Chinese)
        .await?;
    let current = handle.query(GET_LANGUAGE, &()).await?;
    println!("Language changed: {previous:?} -> {current:?}");

    match handle
        .execute_update(SET_LANGUAGE, &Language::Portuguese)
        .await
    {
        Ok(_) => anyhow::bail!("the validator should have rejected Portuguese"),
        Err(error) => println!("Update rejected: {error}"),
    }

    let previous = handle
        .execute_update(SET_LANGUAGE_USING_ACTIVITY, &Language::Arabic)
        .await?;
    println!("Language changed: {previous:?} -> Arabic");

    handle
        .signal(
            APPROVE,
            &ApproveInput {
                name: "Ana".to_owned(),
            },
        )
        .await?;
    println!("Result: {}", handle.result().await?);
    Ok(())
}
