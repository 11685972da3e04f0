//! `/models`: list, retrieve, delete (fine-tuned models only; not on Azure).

use super::*;

fn model_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("The model '{id}' does not exist"))
        .param("model")
        .code("model_not_found")
}

pub async fn list_models(State(app): State<Shared>, uri: OriginalUri) -> ApiResult {
    let flavor = flavor(&uri);
    let (st, _) = app.ticked();
    let mut data: Vec<Value> = state::BASE_MODELS
        .iter()
        .filter_map(|(m, _, _)| state::base_model_json(m))
        .collect();
    data.extend(
        st.models
            .values()
            .filter(|m| m.flavor == flavor)
            .map(|m| m.json()),
    );
    Ok(ok(json!({"object": "list", "data": data})))
}

pub async fn retrieve_model(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    let flavor = flavor(&uri);
    let (st, _) = app.ticked();
    if let Some(m) = st.models.get(&id).filter(|m| m.flavor == flavor) {
        return Ok(ok(m.json()));
    }
    state::base_model_json(&id)
        .map(ok)
        .ok_or_else(|| model_not_found(&id))
}

pub async fn delete_model(
    State(app): State<Shared>,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> ApiResult {
    if flavor(&uri) == Flavor::Azure {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "Models cannot be deleted through the data plane. Delete the deployment and the model with the Azure \
             management API (Azure Resource Manager) instead.",
        )
        .azure("MethodNotAllowed"));
    }
    let (mut st, _) = app.ticked();
    if st
        .models
        .get(&id)
        .is_some_and(|m| m.flavor == Flavor::OpenAI)
    {
        st.models.remove(&id);
        return Ok(ok(json!({"id": id, "object": "model", "deleted": true})));
    }
    if state::base_model_json(&id).is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            format!(
                "You do not have permission to delete model '{id}'. Only fine-tuned models owned by your organization can be deleted."
            ),
        ));
    }
    Err(model_not_found(&id))
}
