//! How a model is asked to sample its answers: temperature, top-p and the
//! most tokens one answer may hold. Each provider is sent them in its own
//! fields (the worker's `provider` modules); one left unset leaves the
//! provider's default.

use serde::{Deserialize, Serialize};

/// The highest temperature an agent may set (OpenAI's and Gemini's top;
/// Anthropic's is 1, and it says so when sent more).
pub const MAX_TEMPERATURE: f64 = 2.0;

/// An agent's sampling parameters; `None` is the provider's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Randomness, from 0 (the likeliest token) to [`MAX_TEMPERATURE`].
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Nucleus sampling: only the likeliest tokens whose probabilities add
    /// up to this are drawn from; above 0, at most 1.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Most tokens one answer may hold, at least 1.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
}

impl Sampling {
    /// Whether nothing is set.
    pub fn is_default(&self) -> bool {
        *self == Sampling::default()
    }

    /// Checks each value set is one every provider could take.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(t) = self.temperature
            && !(0.0..=MAX_TEMPERATURE).contains(&t)
        {
            return Err(format!(
                "temperature {t} is out of range: from 0 to {MAX_TEMPERATURE}"
            ));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(format!("top_p {p} is out of range: above 0, at most 1"));
        }
        if self.max_output_tokens == Some(0) {
            return Err("max_output_tokens must be at least 1".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_out_of_range_are_refused_with_the_range() {
        assert!(Sampling::default().validate().is_ok());
        assert!(Sampling::default().is_default());
        let ok = Sampling {
            temperature: Some(0.0),
            top_p: Some(1.0),
            max_output_tokens: Some(1),
        };
        assert!(ok.validate().is_ok());
        assert!(!ok.is_default());
        let refused = |sampling: Sampling| sampling.validate().err().unwrap_or_default();
        assert_eq!(
            refused(Sampling {
                temperature: Some(2.5),
                ..Sampling::default()
            }),
            "temperature 2.5 is out of range: from 0 to 2"
        );
        assert_eq!(
            refused(Sampling {
                temperature: Some(f64::NAN),
                ..Sampling::default()
            }),
            "temperature NaN is out of range: from 0 to 2"
        );
        assert_eq!(
            refused(Sampling {
                top_p: Some(0.0),
                ..Sampling::default()
            }),
            "top_p 0 is out of range: above 0, at most 1"
        );
        assert_eq!(
            refused(Sampling {
                max_output_tokens: Some(0),
                ..Sampling::default()
            }),
            "max_output_tokens must be at least 1"
        );
    }
}
