//! Operations, and the hook through which the controller counts outbound requests. The provider
//! keeps no global state: the controller passes an observer that feeds its own registry.

use std::fmt;
use std::time::Duration;

/// One kind of provider call. `as_str()` is the metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Operation {
    UploadFile,
    RetrieveFile,
    ListFiles,
    DeleteFile,
    CreateUpload,
    AddUploadPart,
    CompleteUpload,
    CancelUpload,
    CreateJob,
    RetrieveJob,
    ListJobs,
    CancelJob,
    PauseJob,
    ResumeJob,
    DeleteJob,
    ListJobEvents,
    ListJobCheckpoints,
    DeleteModel,
    ValidateGrader,
}

impl Operation {
    /// The label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UploadFile => "upload_file",
            Self::RetrieveFile => "retrieve_file",
            Self::ListFiles => "list_files",
            Self::DeleteFile => "delete_file",
            Self::CreateUpload => "create_upload",
            Self::AddUploadPart => "add_upload_part",
            Self::CompleteUpload => "complete_upload",
            Self::CancelUpload => "cancel_upload",
            Self::CreateJob => "create_job",
            Self::RetrieveJob => "retrieve_job",
            Self::ListJobs => "list_jobs",
            Self::CancelJob => "cancel_job",
            Self::PauseJob => "pause_job",
            Self::ResumeJob => "resume_job",
            Self::DeleteJob => "delete_job",
            Self::ListJobEvents => "list_job_events",
            Self::ListJobCheckpoints => "list_job_checkpoints",
            Self::DeleteModel => "delete_model",
            Self::ValidateGrader => "validate_grader",
        }
    }

    /// Calls that create a remote object: a failure with an unknown outcome may have created it,
    /// so they are only retried in-process when the server certainly did not act (429, 503,
    /// connect errors).
    pub fn creates_object(self) -> bool {
        matches!(
            self,
            Self::UploadFile | Self::CreateUpload | Self::CompleteUpload | Self::CreateJob
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one HTTP attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// The provider answered with this status.
    Status(u16),
    /// No answer: connect error, timeout or broken connection.
    TransportError,
}

impl RequestOutcome {
    /// The label used in metrics: the status code, or `error`.
    pub fn label(self) -> String {
        match self {
            Self::Status(code) => code.to_string(),
            Self::TransportError => "error".to_owned(),
        }
    }
}

/// Receives one call per HTTP attempt (retries included). Implementations must be cheap and must
/// not block.
pub trait RequestObserver: Send + Sync {
    /// One attempt of `operation` ended with `outcome` after `elapsed`.
    fn observe(&self, operation: Operation, outcome: RequestOutcome, elapsed: Duration);
}

/// The default observer: counts nothing.
#[derive(Debug, Default)]
pub struct NoopObserver;

impl RequestObserver for NoopObserver {
    fn observe(&self, _: Operation, _: RequestOutcome, _: Duration) {}
}
