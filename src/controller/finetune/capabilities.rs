//! What each provider can do, decided before anything is sent: a FineTuneJob asking for something
//! its provider cannot honour is refused at admission (`UnsupportedByProvider`) instead of failing
//! half-way or being silently ignored. Pure.
//!
//! Amazon Bedrock model customization (CreateModelCustomizationJob, Bedrock API reference; "Custom
//! model hyperparameters" in the user guide) has no pause or resume, no seed, no model-name suffix
//! (tunegate names the custom model after the resource uid), no DPO, and takes `learningRate`
//! rather than a multiplier except on Anthropic models. Volume-source datasets upload through a
//! worker Job, which has no Bedrock client yet. Bedrock's reinforcement fine-tuning grades with
//! the customer's own Lambda function, not with the provider-hosted graders a FineTuneJob names,
//! so `method: Reinforcement` is refused there too.
//!
//! Azure OpenAI's reinforcement fine-tuning needs both a training and a validation dataset
//! (Azure OpenAI "Reinforcement fine-tuning", Requirements).

use tunegate_api::{DatasetFormat, FineTuneJobSpec, MethodType, ProviderType};

/// What admission knows about one dataset of the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetShape {
    pub format: DatasetFormat,
    pub from_volume: bool,
}

/// Why the provider cannot run this job as specified, or `None`.
pub fn refusal(
    provider: ProviderType,
    spec: &FineTuneJobSpec,
    datasets: &[DatasetShape],
) -> Option<String> {
    match provider {
        ProviderType::Bedrock => {}
        ProviderType::AzureOpenAI => {
            let rft_without_validation = spec.method.type_ == MethodType::Reinforcement
                && spec.validation_dataset_ref.is_none();
            return rft_without_validation.then(|| {
                "Azure OpenAI reinforcement fine-tuning needs a validationDatasetRef as well as the training dataset".to_string()
            });
        }
        ProviderType::OpenAI => return None,
    }
    let mut why: Vec<String> = Vec::new();
    if spec.paused {
        why.push("paused: Bedrock customization jobs cannot be paused or resumed".into());
    }
    if spec.seed.is_some() {
        why.push("seed: Bedrock has no seed parameter".into());
    }
    if spec.suffix.is_some() {
        why.push(
            "suffix: the custom model is named tunegate-<uid> (the name is what makes a retried create safe)"
                .into(),
        );
    }
    if let Err(e) = crate::controller::bedrock::hyperparameters(&spec.model, &spec.method) {
        why.push(e);
    }
    for d in datasets {
        if let Err(e) = crate::controller::bedrock::record_format(&spec.model, d.format) {
            why.push(e);
        }
        if d.from_volume {
            why.push("volume-source datasets: the upload worker has no Bedrock client yet; use Secret or ConfigMap sources".into());
        }
    }
    why.dedup();
    (!why.is_empty()).then(|| {
        format!(
            "Amazon Bedrock cannot run this job as specified: {}",
            why.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> FineTuneJobSpec {
        serde_yaml::from_str(&format!(
            "trainingDatasetRef: {{name: d}}\nproviderRef: {{name: p}}\nmodel: amazon.nova-micro-v1:0:128k\n{extra}"
        ))
        .expect("spec")
    }

    const CHAT: DatasetShape = DatasetShape {
        format: DatasetFormat::Chat,
        from_volume: false,
    };

    #[test]
    fn a_plain_supervised_job_is_accepted() {
        let s = spec("method: {hyperparameters: {nEpochs: 2, batchSize: auto}}");
        assert_eq!(refusal(ProviderType::Bedrock, &s, &[CHAT]), None);
    }

    #[test]
    fn what_bedrock_cannot_do_is_named() {
        for (extra, word) in [
            ("paused: true", "paused"),
            ("seed: 42", "seed"),
            ("suffix: bot", "suffix"),
            ("method: {type: DPO}", "DPO"),
            (
                "method: {type: Reinforcement, grader: {type: python, name: p, source: x}}",
                "Reinforcement",
            ),
            (
                "method: {hyperparameters: {learningRateMultiplier: 0.5}}",
                "learningRateMultiplier",
            ),
        ] {
            let m = refusal(ProviderType::Bedrock, &spec(extra), &[CHAT])
                .unwrap_or_else(|| panic!("{extra} must be refused"));
            assert!(m.contains(word), "{extra}: {m}");
        }
        let volume = DatasetShape {
            from_volume: true,
            ..CHAT
        };
        assert!(
            refusal(ProviderType::Bedrock, &spec(""), &[volume])
                .unwrap()
                .contains("volume")
        );
        let preference = DatasetShape {
            format: DatasetFormat::Preference,
            from_volume: false,
        };
        assert!(refusal(ProviderType::Bedrock, &spec(""), &[preference]).is_some());
    }

    #[test]
    fn azure_reinforcement_needs_a_validation_dataset() {
        let rft = "method: {type: Reinforcement, grader: {type: python, name: p, source: x}}";
        let shape = DatasetShape {
            format: DatasetFormat::Reinforcement,
            from_volume: false,
        };
        let m = refusal(ProviderType::AzureOpenAI, &spec(rft), &[shape]).expect("refused");
        assert!(m.contains("validationDatasetRef"), "{m}");
        let with_val = spec(&format!("{rft}\nvalidationDatasetRef: {{name: v}}"));
        assert_eq!(
            refusal(ProviderType::AzureOpenAI, &with_val, &[shape, shape]),
            None
        );
        // OpenAI takes a reinforcement job without one.
        assert_eq!(refusal(ProviderType::OpenAI, &spec(rft), &[shape]), None);
    }

    #[test]
    fn other_providers_are_not_judged_here() {
        let s = spec("paused: true\nseed: 1\nsuffix: x");
        assert_eq!(refusal(ProviderType::OpenAI, &s, &[CHAT]), None);
        assert_eq!(refusal(ProviderType::AzureOpenAI, &s, &[CHAT]), None);
    }
}
