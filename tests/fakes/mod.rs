//! An in-memory stand-in for the provider, for exercising the
//! controllers against a real API server before/independently of the sandbox.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::future::BoxFuture;
use tunegate::api::ProviderSpec;
use tunegate::controller::ports::*;

#[derive(Default, Debug)]
pub struct FakeState {
    pub files: BTreeMap<String, (String, Vec<u8>)>,
    pub jobs: BTreeMap<String, (RemoteJob, u32)>,
    pub created_files: u32,
    pub created_jobs: u32,
    pub deleted_models: Vec<String>,
}

/// A provider whose jobs advance one status per poll: validating_files, running x3, succeeded.
#[derive(Clone, Default)]
pub struct FakeProvider {
    pub state: Arc<Mutex<FakeState>>,
}

impl RemoteFactory for FakeProvider {
    fn build(&self, _spec: &ProviderSpec, api_key: &str) -> Result<Box<dyn Remote>, RemoteError> {
        if api_key != "sk-test" {
            return Err(RemoteError::Terminal {
                code: "invalid_api_key".into(),
                message: String::new(),
                http: 401,
            });
        }
        Ok(Box::new(self.clone()))
    }
}

impl Remote for FakeProvider {
    fn find_files(&self, filename: &str) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>> {
        let filename = filename.to_string();
        Box::pin(async move {
            let st = self.state.lock().unwrap();
            Ok(st
                .files
                .iter()
                .filter(|(_, (n, _))| *n == filename)
                .map(|(id, (n, b))| RemoteFile {
                    id: id.clone(),
                    filename: n.clone(),
                    bytes: b.len() as u64,
                    purpose: "fine-tune".into(),
                })
                .collect())
        })
    }
    fn upload_file(
        &self,
        filename: String,
        purpose: String,
        len: u64,
        _expires: u64,
        mut body: UploadBody,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        Box::pin(async move {
            let mut data = Vec::new();
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(b) => data.extend_from_slice(&b),
                    Err(_) => {
                        return Err(RemoteError::Recoverable {
                            code: "body_aborted".into(),
                            retry_after: None,
                        });
                    }
                }
            }
            if data.len() as u64 != len {
                return Err(RemoteError::Terminal {
                    code: "length".into(),
                    message: String::new(),
                    http: 400,
                });
            }
            let mut st = self.state.lock().unwrap();
            st.created_files += 1;
            let id = format!("file-{}", st.created_files);
            st.files.insert(id.clone(), (filename.clone(), data));
            Ok(RemoteFile {
                id,
                filename,
                bytes: len,
                purpose,
            })
        })
    }
    fn delete_file(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            match self.state.lock().unwrap().files.remove(&id) {
                Some(_) => Ok(()),
                None => Err(RemoteError::NotFound),
            }
        })
    }
    fn create_job(&self, req: JobRequest) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        Box::pin(async move {
            let mut st = self.state.lock().unwrap();
            st.created_jobs += 1;
            let job = RemoteJob {
                id: format!("ftjob-{}", st.created_jobs),
                status: "validating_files".into(),
                metadata: req.metadata,
                ..Default::default()
            };
            st.jobs.insert(job.id.clone(), (job.clone(), 0));
            Ok(job)
        })
    }
    fn find_jobs(
        &self,
        key: &str,
        value: &str,
    ) -> BoxFuture<'_, Result<Vec<RemoteJob>, RemoteError>> {
        let (key, value) = (key.to_string(), value.to_string());
        Box::pin(async move {
            let st = self.state.lock().unwrap();
            Ok(st
                .jobs
                .values()
                .filter(|(j, _)| j.metadata.get(&key) == Some(&value))
                .map(|(j, _)| j.clone())
                .collect())
        })
    }
    fn get_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            let mut st = self.state.lock().unwrap();
            let Some((job, polls)) = st.jobs.get_mut(&id) else {
                return Err(RemoteError::NotFound);
            };
            *polls += 1;
            if !matches!(
                job.status.as_str(),
                "succeeded" | "cancelled" | "failed" | "paused"
            ) {
                job.status = match *polls {
                    0..=1 => "validating_files",
                    2..=4 => "running",
                    _ => "succeeded",
                }
                .into();
                if job.status == "succeeded" {
                    job.fine_tuned_model = Some(format!("ft:gpt-4o-mini:{id}"));
                    job.trained_tokens = Some(1000);
                }
            }
            Ok(job.clone())
        })
    }
    fn cancel_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        self.set_status(id, "cancelled")
    }
    fn pause_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        self.set_status(id, "paused")
    }
    fn resume_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        self.set_status(id, "running")
    }
    fn events_after(
        &self,
        job_id: &str,
        after: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<RemoteEvent>, RemoteError>> {
        let (job_id, after) = (job_id.to_string(), after.map(str::to_string));
        Box::pin(async move {
            let st = self.state.lock().unwrap();
            let polls = st.jobs.get(&job_id).map(|(_, p)| *p).unwrap_or(0);
            let all: Vec<RemoteEvent> = (1..=polls.min(3))
                .map(|i| RemoteEvent {
                    id: format!("ev-{i}"),
                    level: "info".into(),
                    message: format!("step {i}"),
                })
                .collect();
            let start = after
                .and_then(|a| all.iter().position(|e| e.id == a).map(|p| p + 1))
                .unwrap_or(0);
            Ok(all[start..].to_vec())
        })
    }
    fn delete_model(&self, model: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let model = model.to_string();
        Box::pin(async move {
            self.state.lock().unwrap().deleted_models.push(model);
            Ok(())
        })
    }
}

impl FakeProvider {
    fn set_status(&self, id: &str, status: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let (id, status) = (id.to_string(), status.to_string());
        Box::pin(async move {
            let mut st = self.state.lock().unwrap();
            let Some((job, _)) = st.jobs.get_mut(&id) else {
                return Err(RemoteError::NotFound);
            };
            if matches!(job.status.as_str(), "succeeded" | "cancelled" | "failed") {
                return Err(RemoteError::Terminal {
                    code: "job_terminal".into(),
                    message: String::new(),
                    http: 400,
                });
            }
            job.status = status;
            Ok(job.clone())
        })
    }
}
