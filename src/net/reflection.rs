//! A gRPC server-reflection client: lists a server's services and fetches
//! the descriptors of the files that define them, following every file's
//! imports by name until the set is closed (servers answer with the
//! defining file only).
//!
//! Reflection v1 is tried first; a server that answers `Unimplemented`
//! (grpcio and others serve only v1alpha) is asked again over v1alpha.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use prost::Message;
use prost_types::FileDescriptorProto;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::Channel;

use super::channel::{ChannelOptions, connect};
use super::{NetError, status_error};

/// The reflection services themselves, left out of what a server offers.
const REFLECTION_SERVICES: &[&str] = &[
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Which version of the reflection protocol answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V1Alpha,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "v1",
            Version::V1Alpha => "v1alpha",
        })
    }
}

/// What a server told about itself.
#[derive(Clone, Debug)]
pub struct Reflected {
    pub version: Version,
    /// Full names of the services, reflection excluded, sorted.
    pub services: Vec<String>,
    /// Every file defining them and everything they import, by name.
    pub files: Vec<FileDescriptorProto>,
    /// v1 was asked first and is not served.
    pub fell_back: bool,
}

/// Why reflection failed, beyond the network.
#[derive(Debug, thiserror::Error)]
pub enum ReflectError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{endpoint} does not offer gRPC server reflection (neither v1 nor v1alpha)")]
    Disabled { endpoint: String },
    #[error("{endpoint} does not serve `{file}`, imported by `{imported_by}`")]
    MissingFile {
        endpoint: String,
        file: String,
        imported_by: String,
    },
    #[error("{endpoint} answered reflection with an error for {request}: {message}")]
    Refused {
        endpoint: String,
        request: String,
        message: String,
    },
    #[error("{endpoint} sent an invalid descriptor for `{file}`: {reason}")]
    BadDescriptor {
        endpoint: String,
        file: String,
        reason: String,
    },
}

impl ReflectError {
    pub fn help(&self) -> Option<String> {
        match self {
            ReflectError::Net(e) => e.help(),
            ReflectError::Disabled { .. } => Some(
                "enable server reflection on the server, or import its .proto files: realm import proto FILE... -I DIR"
                    .into(),
            ),
            ReflectError::MissingFile { .. } => Some(
                "the server must serve every file its services import; or import the .proto files instead".into(),
            ),
            _ => None,
        }
    }
}

/// Where reflection is, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Connecting,
    ListingServices,
    /// `done` of the `asked` file requests so far are answered (imports
    /// found in the answers add requests).
    FetchingFiles {
        done: usize,
        asked: usize,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Connecting => f.write_str("connecting"),
            Step::ListingServices => f.write_str("listing services"),
            Step::FetchingFiles { done, asked } => write!(f, "fetching files {done}/{asked}"),
        }
    }
}

/// Told each step as reflection reaches it.
pub type Progress<'a> = &'a (dyn Fn(Step) + Sync);

/// Headers sent with every reflection request.
pub type Headers = Vec<(
    MetadataKey<tonic::metadata::Ascii>,
    MetadataValue<tonic::metadata::Ascii>,
)>;

/// Reflects the server at `options.endpoint`.
pub async fn reflect(
    options: &ChannelOptions,
    headers: &Headers,
    progress: Progress<'_>,
) -> Result<Reflected, ReflectError> {
    progress(Step::Connecting);
    let channel = connect(options).await?;
    let endpoint = options.endpoint.as_str();
    let deadline = options.timeout;
    let run = async {
        match v1::session(channel.clone(), endpoint, headers, progress).await {
            Err(Attempt::Unimplemented) => {
                tracing::debug!(
                    "{endpoint} does not serve reflection v1 (grpc.reflection.v1.ServerReflection is UNIMPLEMENTED); asking v1alpha"
                );
                match v1alpha::session(channel, endpoint, headers, progress).await {
                    Err(Attempt::Unimplemented) => {
                        tracing::debug!("{endpoint} does not serve reflection v1alpha either");
                        Err(ReflectError::Disabled {
                            endpoint: endpoint.to_string(),
                        })
                    }
                    Err(Attempt::Failed(e)) => Err(e),
                    Ok(mut r) => {
                        r.version = Version::V1Alpha;
                        r.fell_back = true;
                        Ok(r)
                    }
                }
            }
            Err(Attempt::Failed(e)) => Err(e),
            Ok(r) => Ok(r),
        }
    };
    match tokio::time::timeout(deadline, run).await {
        Ok(result) => result,
        Err(_) => Err(NetError::Timeout {
            endpoint: endpoint.to_string(),
            timeout: deadline,
        }
        .into()),
    }
}

enum Attempt {
    /// The server does not speak this version.
    Unimplemented,
    Failed(ReflectError),
}

impl From<ReflectError> for Attempt {
    fn from(e: ReflectError) -> Self {
        Attempt::Failed(e)
    }
}

/// The imports of `files` that are not among them, each with a file that
/// imports it.
fn missing_imports(files: &BTreeMap<String, FileDescriptorProto>) -> BTreeMap<String, String> {
    let mut missing = BTreeMap::new();
    for (name, file) in files {
        for dependency in &file.dependency {
            if !files.contains_key(dependency) {
                missing
                    .entry(dependency.clone())
                    .or_insert_with(|| name.clone());
            }
        }
    }
    missing
}

/// `google/protobuf/*.proto` as protox ships it.
fn well_known_file(name: &str) -> Option<FileDescriptorProto> {
    use protox::file::FileResolver;
    if !name.starts_with("google/protobuf/") {
        return None;
    }
    protox::file::GoogleFileResolver::new()
        .open_file(name)
        .ok()
        .map(|f| f.file_descriptor_proto().clone())
}

fn decode_files(
    endpoint: &str,
    request: &str,
    encoded: Vec<Vec<u8>>,
    files: &mut BTreeMap<String, FileDescriptorProto>,
) -> Result<(), ReflectError> {
    for bytes in encoded {
        let file = FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| {
            ReflectError::BadDescriptor {
                endpoint: endpoint.to_string(),
                file: request.to_string(),
                reason: e.to_string(),
            }
        })?;
        files.entry(file.name().to_string()).or_insert(file);
    }
    Ok(())
}

/// The same session for both protocol versions: the generated types differ
/// only by module.
macro_rules! session {
    ($version:ident, $variant:expr) => {
        mod $version {
            use super::*;
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
            use tonic_reflection::pb::$version::{
                ServerReflectionRequest, ServerReflectionResponse,
            };

            pub(super) async fn session(
                channel: Channel,
                endpoint: &str,
                headers: &Headers,
                progress: Progress<'_>,
            ) -> Result<Reflected, Attempt> {
                // Requests are pipelined: every request of a round is sent
                // at once and the answers, which come in order, read after.
                // One round trip per round, not per service.
                let (tx, rx) = mpsc::unbounded_channel::<ServerReflectionRequest>();
                let mut request = tonic::Request::new(UnboundedReceiverStream::new(rx));
                for (key, value) in headers {
                    request.metadata_mut().insert(key.clone(), value.clone());
                }
                let mut client = ServerReflectionClient::new(channel);
                let ask = |message: MessageRequest| {
                    let _ = tx.send(ServerReflectionRequest {
                        host: String::new(),
                        message_request: Some(message),
                    });
                };
                let unimplemented = |status: &tonic::Status| {
                    status.code() == tonic::Code::Unimplemented
                        && !status.message().contains("HTTP status code")
                };
                progress(Step::ListingServices);
                ask(MessageRequest::ListServices(String::new()));
                let mut responses = match client.server_reflection_info(request).await {
                    Ok(response) => response.into_inner(),
                    Err(status) if unimplemented(&status) => return Err(Attempt::Unimplemented),
                    Err(status) => {
                        return Err(ReflectError::Net(status_error(endpoint, status)).into())
                    }
                };
                let mut next = async |what: &str| -> Result<MessageResponse, Attempt> {
                    match responses.message().await {
                        Ok(Some(ServerReflectionResponse {
                            message_response: Some(message),
                            ..
                        })) => Ok(message),
                        Ok(_) => Err(ReflectError::Refused {
                            endpoint: endpoint.to_string(),
                            request: what.to_string(),
                            message: "the stream ended without an answer".into(),
                        }
                        .into()),
                        Err(status) if unimplemented(&status) => Err(Attempt::Unimplemented),
                        Err(status) => {
                            Err(ReflectError::Net(status_error(endpoint, status)).into())
                        }
                    }
                };

                let services: Vec<String> = match next("the list of services").await? {
                    MessageResponse::ListServicesResponse(list) => list
                        .service
                        .into_iter()
                        .map(|s| s.name)
                        .filter(|name| !REFLECTION_SERVICES.contains(&name.as_str()))
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                    MessageResponse::ErrorResponse(e) => {
                        return Err(ReflectError::Refused {
                            endpoint: endpoint.to_string(),
                            request: "the list of services".into(),
                            message: e.error_message,
                        }
                        .into());
                    }
                    _ => {
                        return Err(ReflectError::Refused {
                            endpoint: endpoint.to_string(),
                            request: "the list of services".into(),
                            message: "an unexpected answer".into(),
                        }
                        .into());
                    }
                };

                let mut files = BTreeMap::new();
                let (mut done, mut asked) = (0, services.len());
                progress(Step::FetchingFiles { done, asked });
                for service in &services {
                    ask(MessageRequest::FileContainingSymbol(service.clone()));
                }
                for service in &services {
                    let what = format!("the file defining `{service}`");
                    let answer = next(&what).await?;
                    done += 1;
                    progress(Step::FetchingFiles { done, asked });
                    match answer {
                        MessageResponse::FileDescriptorResponse(r) => {
                            decode_files(endpoint, service, r.file_descriptor_proto, &mut files)?;
                        }
                        MessageResponse::ErrorResponse(e) => {
                            return Err(ReflectError::Refused {
                                endpoint: endpoint.to_string(),
                                request: what,
                                message: e.error_message,
                            }
                            .into());
                        }
                        _ => {}
                    }
                }
                loop {
                    let missing = missing_imports(&files);
                    if missing.is_empty() {
                        break;
                    }
                    let mut round = Vec::new();
                    for (file, imported_by) in missing {
                        // protobuf's own well-known types are the same
                        // everywhere: taken from protox, not asked for.
                        if let Some(known) = well_known_file(&file) {
                            files.insert(file, known);
                        } else {
                            ask(MessageRequest::FileByFilename(file.clone()));
                            round.push((file, imported_by));
                        }
                    }
                    asked += round.len();
                    for (file, imported_by) in round {
                        let missing_file = || ReflectError::MissingFile {
                            endpoint: endpoint.to_string(),
                            file: file.clone(),
                            imported_by: imported_by.clone(),
                        };
                        let answer = next(&format!("`{file}`")).await;
                        done += 1;
                        progress(Step::FetchingFiles { done, asked });
                        match answer {
                            // Servers answer a file they do not have with a
                            // NOT_FOUND status (tonic) or an error response.
                            Err(Attempt::Failed(ReflectError::Net(NetError::Status {
                                code: tonic::Code::NotFound,
                                ..
                            })))
                            | Ok(MessageResponse::ErrorResponse(_)) => {
                                return Err(missing_file().into());
                            }
                            Ok(MessageResponse::FileDescriptorResponse(r)) => {
                                decode_files(endpoint, &file, r.file_descriptor_proto, &mut files)?;
                                if !files.contains_key(&file) {
                                    return Err(missing_file().into());
                                }
                            }
                            Ok(_) => return Err(missing_file().into()),
                            Err(e) => return Err(e),
                        }
                    }
                }
                drop(tx);
                Ok(Reflected {
                    version: $variant,
                    services,
                    files: files.into_values().collect(),
                    fell_back: false,
                })
            }
        }
    };
}

session!(v1, Version::V1);
session!(v1alpha, Version::V1Alpha);
