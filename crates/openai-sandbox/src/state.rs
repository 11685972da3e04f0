//! The sandbox's objects and their JSON. Everything here is synchronous and runs under one mutex;
//! time is a virtual clock (wall clock plus an offset tests can advance) and jobs advance lazily
//! whenever state is read, so what a client observes depends only on time and its own requests.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::blob::Blob;
use super::error::Flavor;
use super::faults::Faults;
use super::ids::IdGen;
use super::jobs::JobRec;

pub const MAX_REQUEST_LOG: usize = 100_000;

pub struct FileRec {
    pub id: String,
    pub flavor: Flavor,
    pub seq: u64,
    pub filename: String,
    pub purpose: String,
    pub created: f64,
    pub expires_at: Option<i64>,
    pub blob: Blob,
    /// Azure import check: `None` while it runs, then the first line that is not JSON, if any.
    pub azure_check: Option<Option<u64>>,
}

impl FileRec {
    pub fn created_at(&self) -> i64 {
        self.created as i64
    }

    pub fn azure_status(&self, now: f64, processing_secs: f64) -> &'static str {
        let age = now - self.created;
        if age < processing_secs / 3.0 {
            "pending"
        } else if age < processing_secs || self.azure_check.is_none() {
            "running"
        } else if matches!(self.azure_check, Some(Some(_))) {
            "error"
        } else {
            "processed"
        }
    }

    pub fn json(&self, now: f64, azure_secs: f64) -> Value {
        let mut v = json!({
            "object": "file",
            "id": self.id,
            "purpose": self.purpose,
            "filename": self.filename,
            "bytes": self.blob.len(),
            "created_at": self.created_at(),
        });
        if let Some(e) = self.expires_at {
            v["expires_at"] = json!(e);
        }
        match self.flavor {
            Flavor::OpenAI => v["status"] = json!("processed"),
            Flavor::Azure => {
                let status = self.azure_status(now, azure_secs);
                v["status"] = json!(status);
                if status == "error"
                    && let Some(Some(line)) = self.azure_check
                {
                    v["status_details"] = json!(format!(
                        "Invalid file format: line {line} is not valid JSON."
                    ));
                }
            }
        }
        v
    }
}

/// Every file body ever received, kept after deletion so tests can prove what left the cluster.
#[derive(Serialize)]
pub struct ReceivedRec {
    pub id: String,
    pub flavor: Flavor,
    pub filename: String,
    pub purpose: String,
    pub bytes: u64,
    /// `files` (multipart upload) or `uploads` (Uploads API).
    pub via: &'static str,
    pub received_at: i64,
    pub deleted: bool,
    pub deleted_at: Option<i64>,
    pub expired: bool,
    #[serde(skip)]
    pub blob: Blob,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UploadStatus {
    Pending,
    Completed,
    Cancelled,
    Expired,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

pub struct PartRec {
    pub id: String,
    pub blob: Blob,
}

pub struct UploadRec {
    pub id: String,
    pub flavor: Flavor,
    pub filename: String,
    pub purpose: String,
    pub bytes: u64,
    pub mime_type: String,
    pub created: f64,
    pub expires_at: i64,
    pub file_expires_after: Option<i64>,
    pub status: UploadStatus,
    pub parts: Vec<PartRec>,
    pub file_id: Option<String>,
}

impl UploadRec {
    pub fn received_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.blob.len()).sum()
    }
}

pub struct ModelRec {
    pub id: String,
    pub flavor: Flavor,
    pub created: i64,
    pub owned_by: String,
    pub job_id: String,
}

impl ModelRec {
    pub fn json(&self) -> Value {
        json!({"id": self.id, "object": "model", "created": self.created, "owned_by": self.owned_by})
    }
}

#[derive(Serialize, Clone)]
pub struct RequestLog {
    pub seq: u64,
    pub at: f64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub flavor: Option<Flavor>,
    pub fault: Option<&'static str>,
    pub duration_ms: u64,
    pub openai_organization: Option<String>,
    pub openai_project: Option<String>,
}

pub struct State {
    pub ids: IdGen,
    pub clock_offset: f64,
    pub files: BTreeMap<String, FileRec>,
    pub received: Vec<ReceivedRec>,
    pub received_index: HashMap<String, usize>,
    pub uploads: BTreeMap<String, UploadRec>,
    pub jobs: BTreeMap<String, JobRec>,
    pub models: BTreeMap<String, ModelRec>,
    pub requests: VecDeque<RequestLog>,
    pub request_seq: u64,
    pub faults: Faults,
    /// Requests seen in the current minute, for the x-ratelimit-* headers.
    pub rl_window: (i64, u64),
}

impl State {
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            ids: IdGen::new(seed),
            clock_offset: 0.0,
            files: BTreeMap::new(),
            received: Vec::new(),
            received_index: HashMap::new(),
            uploads: BTreeMap::new(),
            jobs: BTreeMap::new(),
            models: BTreeMap::new(),
            requests: VecDeque::new(),
            request_seq: 0,
            faults,
            rl_window: (0, 0),
        }
    }

    pub fn now(&self) -> f64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        wall + self.clock_offset
    }

    pub fn new_file_id(&mut self, flavor: Flavor) -> String {
        match flavor {
            Flavor::OpenAI => format!("file-{}", self.ids.random(22)),
            Flavor::Azure => format!("file-{}", self.ids.hex(32)),
        }
    }

    /// Insert a file and, when it came from a client, record its bytes as received.
    pub fn insert_file(&mut self, file: FileRec, via: Option<&'static str>) {
        if let Some(via) = via {
            let rec = ReceivedRec {
                id: file.id.clone(),
                flavor: file.flavor,
                filename: file.filename.clone(),
                purpose: file.purpose.clone(),
                bytes: file.blob.len(),
                via,
                received_at: file.created_at(),
                deleted: false,
                deleted_at: None,
                expired: false,
                blob: file.blob.clone(),
            };
            self.received_index
                .insert(rec.id.clone(), self.received.len());
            self.received.push(rec);
        }
        self.files.insert(file.id.clone(), file);
    }

    pub fn remove_file(&mut self, id: &str, now: f64, expired: bool) -> Option<FileRec> {
        let f = self.files.remove(id)?;
        if let Some(&i) = self.received_index.get(id) {
            let r = &mut self.received[i];
            r.deleted = true;
            r.deleted_at = Some(now as i64);
            r.expired = expired;
        }
        Some(f)
    }

    /// Apply everything that time has made true: expired files and uploads, job progress.
    pub fn tick(&mut self, now: f64, ctx: &super::jobs::JobCtx) {
        let expired: Vec<String> = self
            .files
            .values()
            .filter(|f| f.expires_at.is_some_and(|e| (e as f64) <= now))
            .map(|f| f.id.clone())
            .collect();
        for id in expired {
            self.remove_file(&id, now, true);
        }
        for u in self.uploads.values_mut() {
            if u.status == UploadStatus::Pending && (u.expires_at as f64) <= now {
                u.status = UploadStatus::Expired;
                u.parts.clear();
            }
        }
        let active: Vec<String> = self
            .jobs
            .values()
            .filter(|j| !j.is_terminal())
            .map(|j| j.id.clone())
            .collect();
        for id in active {
            super::jobs::advance(self, &id, now, ctx);
        }
    }

    pub fn upload_json(&self, u: &UploadRec, now: f64, azure_secs: f64) -> Value {
        let file = u
            .file_id
            .as_ref()
            .and_then(|id| self.files.get(id))
            .map(|f| f.json(now, azure_secs));
        json!({
            "id": u.id,
            "object": "upload",
            "bytes": u.bytes,
            "created_at": u.created as i64,
            "filename": u.filename,
            "purpose": u.purpose,
            "status": u.status.as_str(),
            "expires_at": u.expires_at,
            "file": file,
        })
    }

    pub fn log_request(&mut self, mut entry: RequestLog) {
        self.request_seq += 1;
        entry.seq = self.request_seq;
        if self.requests.len() >= MAX_REQUEST_LOG {
            self.requests.pop_front();
        }
        self.requests.push_back(entry);
    }

    /// Inspection view: every object that exists now.
    pub fn snapshot(&self, now: f64, azure_secs: f64) -> Value {
        let files: Vec<Value> = self
            .files
            .values()
            .map(|f| {
                let mut v = f.json(now, azure_secs);
                v["flavor"] = json!(f.flavor);
                v
            })
            .collect();
        let uploads: Vec<Value> = self
            .uploads
            .values()
            .map(|u| {
                let mut v = self.upload_json(u, now, azure_secs);
                v["flavor"] = json!(u.flavor);
                v["received_bytes"] = json!(u.received_bytes());
                v["parts"] = json!(u.parts.len());
                v["mime_type"] = json!(u.mime_type);
                v
            })
            .collect();
        let jobs: Vec<Value> = self
            .jobs
            .values()
            .map(|j| {
                let mut v = j.json();
                v["flavor"] = json!(j.flavor);
                v
            })
            .collect();
        let models: Vec<Value> = self
            .models
            .values()
            .map(|m| {
                let mut v = m.json();
                v["flavor"] = json!(m.flavor);
                v["job_id"] = json!(m.job_id);
                v
            })
            .collect();
        let pending_uploads = self
            .uploads
            .values()
            .filter(|u| u.status == UploadStatus::Pending)
            .count();
        let active_jobs = self.jobs.values().filter(|j| !j.is_terminal()).count();
        let client_files = self
            .files
            .values()
            .filter(|f| self.received_index.contains_key(&f.id))
            .count();
        json!({
            "now": now,
            "counts": {
                "files": files.len(),
                "client_files": client_files,
                "uploads": uploads.len(),
                "pending_uploads": pending_uploads,
                "jobs": jobs.len(),
                "active_jobs": active_jobs,
                "models": models.len(),
                "received": self.received.len(),
            },
            "files": files,
            "uploads": uploads,
            "jobs": jobs,
            "models": models,
        })
    }
}

/// Base models: fine-tunable snapshots (with their aliases) and a few others, as `/v1/models`
/// lists them.
pub const BASE_MODELS: &[(&str, i64, &str)] = &[
    ("gpt-4o-mini-2024-07-18", 1_721_172_717, "system"),
    ("gpt-4o-mini", 1_721_172_741, "system"),
    ("gpt-4o-2024-08-06", 1_722_814_719, "system"),
    ("gpt-4o", 1_715_367_049, "system"),
    ("gpt-4.1-2025-04-14", 1_744_315_746, "system"),
    ("gpt-4.1", 1_744_316_542, "system"),
    ("gpt-4.1-mini-2025-04-14", 1_744_317_547, "system"),
    ("gpt-4.1-mini", 1_744_318_173, "system"),
    ("gpt-4.1-nano-2025-04-14", 1_744_321_025, "system"),
    ("gpt-4.1-nano", 1_744_321_707, "system"),
    ("o4-mini-2025-04-16", 1_744_133_506, "system"),
    ("o4-mini", 1_744_225_351, "system"),
    ("gpt-3.5-turbo-0125", 1_706_048_358, "system"),
    ("gpt-3.5-turbo", 1_677_610_602, "openai"),
    ("babbage-002", 1_692_634_615, "system"),
    ("davinci-002", 1_692_634_301, "system"),
    ("text-embedding-3-small", 1_705_948_997, "system"),
];

/// Resolve a requested base model to the snapshot fine-tuning uses, if it can be fine-tuned.
pub fn fine_tunable_snapshot(model: &str) -> Option<&'static str> {
    Some(match model {
        "gpt-4o-mini" | "gpt-4o-mini-2024-07-18" => "gpt-4o-mini-2024-07-18",
        "gpt-4o" | "gpt-4o-2024-08-06" => "gpt-4o-2024-08-06",
        "gpt-4.1" | "gpt-4.1-2025-04-14" => "gpt-4.1-2025-04-14",
        "gpt-4.1-mini" | "gpt-4.1-mini-2025-04-14" => "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano" | "gpt-4.1-nano-2025-04-14" => "gpt-4.1-nano-2025-04-14",
        "o4-mini" | "o4-mini-2025-04-16" => "o4-mini-2025-04-16",
        "gpt-3.5-turbo" | "gpt-3.5-turbo-0125" => "gpt-3.5-turbo-0125",
        "gpt-3.5-turbo-1106" => "gpt-3.5-turbo-1106",
        "gpt-3.5-turbo-0613" => "gpt-3.5-turbo-0613",
        "babbage-002" => "babbage-002",
        "davinci-002" => "davinci-002",
        _ => return None,
    })
}

pub fn base_model_json(id: &str) -> Option<Value> {
    BASE_MODELS
        .iter()
        .find(|(m, _, _)| *m == id)
        .map(|(m, c, o)| json!({"id": m, "object": "model", "created": c, "owned_by": o}))
}

/// `metadata[k]=v` and `metadata=null` filters from a raw query.
pub enum MetadataFilter {
    Any,
    Null,
    Match(Map<String, Value>),
}
