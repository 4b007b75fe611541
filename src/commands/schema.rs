//! `pipe schema`: print the JSON Schema of pipeline files.

use pipe_engine::Result;

pub fn schema() -> Result<u8> {
    let registry = crate::registry::registry();
    let schema = pipe_engine::schema::json_schema(&registry);
    let text = serde_json::to_string_pretty(&schema)
        .map_err(|e| pipe_engine::Error::internal(format!("cannot serialise the schema: {e}")))?;
    super::output::out(&format!("{text}\n"))?;
    Ok(0)
}
