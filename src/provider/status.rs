//! The provider's status words. They are open strings: every enum has the known values plus
//! `Other(String)`, so a new word (OpenAI sends `paused` though its spec does not list it) never
//! breaks deserialization.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A word this client does not know yet, sanitized (see
            /// [`sanitize`](super::sanitize::sanitize)) to at most 64 bytes: it reaches
            /// conditions, Events and logs.
            Other(String),
        }

        impl $name {
            /// Parses a provider word; unknown words become `Other`.
            pub fn parse(word: &str) -> Self {
                match word {
                    $($word => Self::$variant,)+
                    other => Self::Other(super::sanitize::sanitize(
                        other,
                        super::sanitize::MAX_WORD_BYTES,
                    )),
                }
            }

            /// The provider's word (a known one exactly, an unknown one sanitized).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $word,)+
                    Self::Other(word) => word,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = String::deserialize(d)?;
                Ok(Self::parse(&word))
            }
        }
    };
}

open_enum!(
    /// Status of a fine-tuning job.
    JobStatus {
        /// OpenAI: the training and validation files are being checked.
        ValidatingFiles = "validating_files",
        /// Waiting for capacity.
        Queued = "queued",
        /// Azure OpenAI: accepted, not started.
        Pending = "pending",
        /// Training.
        Running = "running",
        /// Paused by the user (`/pause`); resumes with `/resume`.
        Paused = "paused",
        /// Finished; `fine_tuned_model` is set.
        Succeeded = "succeeded",
        /// Finished with an error; `error` says why.
        Failed = "failed",
        /// Cancelled by the user.
        Cancelled = "cancelled",
    }
);

impl JobStatus {
    /// The job will not change any more (succeeded, failed or cancelled).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// The job is on its way (not terminal and not paused). Unknown words count as active, so
    /// the controller keeps polling rather than wrongly concluding the job is over.
    pub fn is_active(&self) -> bool {
        !self.is_terminal() && !self.is_paused()
    }

    /// The job is paused.
    pub fn is_paused(&self) -> bool {
        matches!(self, Self::Paused)
    }

    /// The job finished successfully.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Succeeded)
    }
}

open_enum!(
    /// Status of an uploaded file. OpenAI reports `uploaded`/`processed`/`error` (deprecated but
    /// still sent); Azure OpenAI reports `pending`/`running`/`processed`/`error` and expects
    /// clients to wait for `processed`.
    FileStatus {
        /// OpenAI: stored.
        Uploaded = "uploaded",
        /// Azure: queued for processing.
        Pending = "pending",
        /// Azure: being processed.
        Running = "running",
        /// Ready to be used by a job.
        Processed = "processed",
        /// Processing failed; the file cannot be used.
        Error = "error",
        /// Azure: being deleted.
        Deleting = "deleting",
        /// Azure: deleted.
        Deleted = "deleted",
    }
);

impl FileStatus {
    /// The file can be used in a job now. OpenAI's `uploaded` counts: OpenAI does not make
    /// clients wait (the status is deprecated there).
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Processed | Self::Uploaded)
    }

    /// Processing failed or the file is going away: waiting longer will not help.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Error | Self::Deleting | Self::Deleted)
    }
}

open_enum!(
    /// Status of a multipart Upload (Uploads API).
    UploadStatus {
        /// Accepting parts.
        Pending = "pending",
        /// Completed; the file exists.
        Completed = "completed",
        /// Cancelled; no file was created.
        Cancelled = "cancelled",
        /// Expired before completion; no file was created.
        Expired = "expired",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_status_known_and_unknown_words_round_trip() {
        for word in [
            "validating_files",
            "queued",
            "pending",
            "running",
            "paused",
            "succeeded",
            "failed",
            "cancelled",
            "notRunning",
            "",
        ] {
            let status: JobStatus = serde_json::from_value(serde_json::json!(word)).unwrap();
            assert_eq!(status.as_str(), word);
            assert_eq!(
                serde_json::to_value(&status).unwrap(),
                serde_json::json!(word)
            );
        }
        assert_eq!(JobStatus::parse("paused"), JobStatus::Paused);
        assert_eq!(
            JobStatus::parse("brand_new"),
            JobStatus::Other("brand_new".into())
        );
        // An unknown word cannot smuggle line breaks or unbounded text into a condition.
        let hostile = format!("run\r\nning{}", "x".repeat(10_000));
        let JobStatus::Other(word) = JobStatus::parse(&hostile) else {
            panic!("unknown word must be Other");
        };
        assert!(word.len() <= super::super::sanitize::MAX_WORD_BYTES);
        assert!(word.starts_with("run ning"));
    }

    #[test]
    fn job_status_predicates() {
        for (word, terminal, active, paused) in [
            ("validating_files", false, true, false),
            ("queued", false, true, false),
            ("running", false, true, false),
            ("paused", false, false, true),
            ("succeeded", true, false, false),
            ("failed", true, false, false),
            ("cancelled", true, false, false),
            ("something_new", false, true, false),
        ] {
            let s = JobStatus::parse(word);
            assert_eq!(s.is_terminal(), terminal, "{word}");
            assert_eq!(s.is_active(), active, "{word}");
            assert_eq!(s.is_paused(), paused, "{word}");
        }
        assert!(JobStatus::Succeeded.is_success());
        assert!(!JobStatus::Failed.is_success());
    }

    #[test]
    fn file_status_predicates() {
        assert!(FileStatus::parse("processed").is_ready());
        assert!(FileStatus::parse("uploaded").is_ready());
        assert!(!FileStatus::parse("pending").is_ready());
        assert!(!FileStatus::parse("running").is_ready());
        assert!(FileStatus::parse("error").is_failed());
        assert!(!FileStatus::parse("weird").is_ready());
        assert!(!FileStatus::parse("weird").is_failed());
        assert_eq!(UploadStatus::parse("expired"), UploadStatus::Expired);
    }
}
