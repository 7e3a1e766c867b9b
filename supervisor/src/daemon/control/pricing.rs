//! Models and their prices: listing a provider's models (through a
//! worker job), and the user's prices (checked, stored with the next
//! pricing version, put in force).

use protocol::ProviderKind;
use protocol::control::{ControlError, ControlResponse, ErrorKind, ModelPrice};

use super::Handles;
use crate::daemon::{PricingState, providers};
use crate::pricing::CustomPrices;

/// The models of `provider` (every provider when `None`), each listed by
/// a worker job with the key that provider's sessions would use.
pub(super) async fn models(
    handles: &Handles,
    provider: Option<ProviderKind>,
    base_url: Option<String>,
    send_key: bool,
) -> Result<ControlResponse, ControlError> {
    let shared = &handles.shared;
    let chosen: Vec<ProviderKind> =
        provider.map_or_else(|| ProviderKind::ALL.to_vec(), |p| vec![p]);
    let mut jobs = tokio::task::JoinSet::new();
    for (order, provider) in chosen.into_iter().enumerate() {
        let stored = shared.secrets.key(provider).await;
        let mut agent = protocol::AgentConfig::scripted("models");
        agent.provider = provider;
        agent.base_url = base_url
            .clone()
            .map(|url| protocol::base_url::normalize(provider, &url).unwrap_or(url));
        agent.send_key_to_base_url = send_key;
        let endpoint = providers::endpoint(&agent, stored);
        let bin = shared.config.worker_bin.clone();
        jobs.spawn(async move {
            (
                order,
                providers::list_models(&bin, provider, endpoint).await,
            )
        });
    }
    let mut listed = jobs.join_all().await;
    listed.sort_by_key(|(order, _)| *order);
    Ok(ControlResponse::Models(
        listed.into_iter().map(|(_, m)| m).collect(),
    ))
}

pub(super) async fn list(handles: &Handles) -> Result<ControlResponse, ControlError> {
    Ok(ControlResponse::Pricing(
        handles.shared.pricing.read().await.table.clone(),
    ))
}

pub(super) async fn set(
    handles: &Handles,
    model: String,
    price: ModelPrice,
) -> Result<ControlResponse, ControlError> {
    check_price(&model, &price)?;
    update_pricing(handles, |custom| {
        custom.prices.insert(model, price);
        Ok(())
    })
    .await
}

pub(super) async fn remove(
    handles: &Handles,
    model: String,
) -> Result<ControlResponse, ControlError> {
    update_pricing(handles, |custom| match custom.prices.remove(&model) {
        Some(_) => Ok(()),
        None => Err(ControlError::new(
            ErrorKind::NotFound,
            format!("no custom price for {model:?}"),
        )),
    })
    .await
}

fn check_price(model: &str, price: &ModelPrice) -> Result<(), ControlError> {
    if model.trim().is_empty() || model.len() > 128 {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            "give a model name of 1 to 128 characters",
        ));
    }
    let fields = [
        price.input,
        price.output,
        price.cache_read,
        price.cache_write,
        price.reasoning,
    ];
    if fields.iter().any(|p| !p.is_finite() || *p < 0.0) {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            "prices must be zero or more dollars per million tokens",
        ));
    }
    Ok(())
}

/// Changes the user's prices, stores them with the next pricing version,
/// and puts them in force.
async fn update_pricing(
    handles: &Handles,
    change: impl FnOnce(&mut CustomPrices) -> Result<(), ControlError>,
) -> Result<ControlResponse, ControlError> {
    let shared = &handles.shared;
    let mut state = shared.pricing.write().await;
    let mut custom = state.custom.clone();
    change(&mut custom)?;
    custom.version = state.table.version + 1;
    shared.store.put_pricing(&custom).await?;
    *state = PricingState::new(custom);
    Ok(ControlResponse::Pricing(state.table.clone()))
}
