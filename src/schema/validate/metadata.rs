//! Metadata placement: where each `+metadata` has an effect, where FTL
//! refuses it, which may repeat; the references metadata names; and the
//! `+oneof` / `+protobuf` rules of a data's fields.

use crate::rules;
use std::mem::discriminant;

use super::{Expect, Site, Validator};
use crate::schema::model::*;
use crate::schema::protobuf::{JsonForm, ProtoKind, ProtoType};

/// What a metadata line is attached to.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Host {
    Module,
    Data,
    Field,
    Verb,
    TypeAlias,
    Database,
    Topic,
}

impl Host {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Host::Module => "a module",
            Host::Data => "data",
            Host::Field => "a field",
            Host::Verb => "a verb",
            Host::TypeAlias => "a type alias",
            Host::Database => "a database",
            Host::Topic => "a topic",
        }
    }
}

/// Where each metadata kind has an effect. Elsewhere it is a warning, or
/// an error where FTL refuses it ([`ftl_refuses`]).
fn allowed_on(kind: &MetadataKind) -> &'static [Host] {
    use Host::*;
    match kind {
        MetadataKind::Calls(_)
        | MetadataKind::Ingress { .. }
        | MetadataKind::Cron(_)
        | MetadataKind::Retry { .. }
        | MetadataKind::Subscribe { .. }
        | MetadataKind::Publish(_)
        | MetadataKind::DatabaseUses(_)
        | MetadataKind::ConfigUses(_)
        | MetadataKind::SecretsUses(_)
        | MetadataKind::Egress(_)
        | MetadataKind::Transaction
        | MetadataKind::Fixture { .. }
        | MetadataKind::SqlQuery { .. }
        | MetadataKind::Grpc(_) => &[Verb],
        MetadataKind::ProtobufMessage(_) => &[Data],
        MetadataKind::ProtobufField { .. } => &[Field],
        MetadataKind::TypeMap { .. } => &[Data, TypeAlias],
        MetadataKind::Encoding { .. } => &[Verb, Data],
        MetadataKind::Alias { .. } | MetadataKind::SqlColumn { .. } | MetadataKind::Oneof(_) => {
            &[Field]
        }
        MetadataKind::Partitions(_) => &[Topic],
        MetadataKind::Migration(_) => &[Database],
        MetadataKind::Artefact { .. } | MetadataKind::Git { .. } | MetadataKind::Image { .. } => {
            &[Module]
        }
        MetadataKind::Generated => &[Module, Data, Verb],
    }
}

/// Where FTL's validator refuses a metadata (and `realm`'s own `+grpc` and
/// `+oneof` anywhere but where they belong).
fn ftl_refuses(kind: &MetadataKind, host: Host) -> bool {
    use MetadataKind as K;
    match kind {
        K::Grpc(_) => return host != Host::Verb,
        K::Oneof(_) | K::ProtobufField { .. } => return host != Host::Field,
        K::ProtobufMessage(_) => return host != Host::Data,
        _ => {}
    }
    match host {
        Host::Data => matches!(
            kind,
            K::Calls(_)
                | K::SecretsUses(_)
                | K::ConfigUses(_)
                | K::SqlColumn { .. }
                | K::SqlQuery { .. }
        ),
        Host::Field => !matches!(kind, K::Alias { .. } | K::SqlColumn { .. }),
        Host::TypeAlias => !matches!(kind, K::TypeMap { .. }),
        Host::Database => !matches!(kind, K::Migration(_)),
        Host::Verb => matches!(kind, K::SqlColumn { .. }),
        Host::Module | Host::Topic => false,
    }
}

/// Metadata that has an effect once per node (a second is a warning; on
/// verbs and databases FTL refuses any repetition).
fn single(kind: &MetadataKind) -> bool {
    !matches!(
        kind,
        MetadataKind::Calls(_)
            | MetadataKind::Publish(_)
            | MetadataKind::DatabaseUses(_)
            | MetadataKind::ConfigUses(_)
            | MetadataKind::SecretsUses(_)
            | MetadataKind::Egress(_)
            | MetadataKind::TypeMap { .. }
            | MetadataKind::Migration(_)
            | MetadataKind::Artefact { .. }
    )
}

impl<'a> Validator<'a> {
    pub(super) fn check_metadata(&mut self, site: &Site<'a>, host: Host, metadata: &'a [Metadata]) {
        for (i, m) in metadata.iter().enumerate() {
            let pos = m.pos.as_ref().or(site.decl.and_then(Decl::pos));
            let keyword = m.kind.keyword();
            let refused = ftl_refuses(&m.kind, host);
            if refused || !allowed_on(&m.kind).contains(&host) {
                let places: Vec<&str> = allowed_on(&m.kind).iter().map(|h| h.describe()).collect();
                let message = if refused {
                    format!("`+{keyword}` is not allowed on {}", host.describe())
                } else {
                    format!("`+{keyword}` has no effect on {}", host.describe())
                };
                let d = self
                    .at(pos, site, message)
                    .with_len(keyword.len() + 1)
                    .with_help(format!("`+{keyword}` belongs on {}", places.join(" or ")));
                self.report_or_warn(refused, d.or_code(rules::METADATA));
            }
            let repeated = metadata[..i]
                .iter()
                .any(|earlier| discriminant(&earlier.kind) == discriminant(&m.kind));
            // FTL refuses any repetition on a verb, and two migrations.
            let ftl_refuses_repeat = match host {
                Host::Verb => true,
                Host::Database => matches!(m.kind, MetadataKind::Migration(_)),
                _ => false,
            };
            if repeated && (ftl_refuses_repeat || single(&m.kind)) {
                let help = match &m.kind {
                    MetadataKind::Subscribe { .. } => "a verb subscribes to one topic".to_string(),
                    MetadataKind::Calls(_)
                    | MetadataKind::Publish(_)
                    | MetadataKind::DatabaseUses(_)
                    | MetadataKind::ConfigUses(_)
                    | MetadataKind::SecretsUses(_)
                    | MetadataKind::Egress(_) => {
                        format!("merge them into one list: `+{keyword} a, b`")
                    }
                    _ => "keep one".to_string(),
                };
                let d = self
                    .at(pos, site, format!("`+{keyword}` appears more than once"))
                    .with_len(keyword.len() + 1)
                    .with_help(help);
                self.report_or_warn(ftl_refuses_repeat, d.or_code(rules::METADATA));
            }
            let kind = |kind: DeclKind, ftl: bool| Expect::Kind { kind, ftl };
            match &m.kind {
                MetadataKind::Calls(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Verb, true))
                }
                MetadataKind::Publish(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Topic, false))
                }
                MetadataKind::DatabaseUses(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Database, false))
                }
                MetadataKind::ConfigUses(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Config, false))
                }
                MetadataKind::SecretsUses(refs) => {
                    self.check_refs(site, refs, kind(DeclKind::Secret, false))
                }
                MetadataKind::Subscribe { topic, from, .. } => {
                    self.check_ref(site, topic, kind(DeclKind::Topic, true));
                    if from.is_none() {
                        let d = self
                            .at(pos, site, "`+subscribe` without `from=`")
                            .with_len(keyword.len() + 1)
                            .with_help(format!(
                                "FTL requires where the subscription starts: `+subscribe {topic} from=beginning` or `from=latest`"
                            ));
                        self.warn(d.or_code(rules::METADATA));
                    }
                }
                MetadataKind::Retry {
                    catch: Some(catch), ..
                } => self.check_ref(site, catch, kind(DeclKind::Verb, true)),
                MetadataKind::Partitions(n) if *n < 1 => {
                    let d = self
                        .at(pos, site, format!("a topic with {n} partitions"))
                        .with_len(keyword.len() + 1)
                        .with_help("a topic has at least 1 partition");
                    self.warn(d.or_code(rules::METADATA));
                }
                MetadataKind::SqlQuery { command, .. }
                    if !["one", "many", "exec", "copyfrom"].contains(&command.as_str()) =>
                {
                    let d = self
                        .at(pos, site, format!("unknown query command `{command}`"))
                        .with_len(keyword.len() + 1)
                        .with_help("FTL's query commands are one, many, exec and copyfrom");
                    self.warn(d.or_code(rules::METADATA));
                }
                _ => {}
            }
        }
    }

    /// A field's own extensions: a `+oneof` member is optional, and its
    /// `+protobuf` type can hold the field's values.
    pub(super) fn check_field_extensions(&mut self, site: &Site<'a>, field: &'a Field) {
        let group = field.oneof();
        if let Some(group) = group
            && !matches!(field.ty, Type::Optional(_))
        {
            let d = self
                .at(
                    field.pos.as_ref(),
                    site,
                    format!(
                        "field `{}` is in oneof `{group}` but is not optional",
                        field.name
                    ),
                )
                .with_len(field.name.len())
                .with_help(format!(
                    "at most one field of a oneof is set: write `{} {}?`",
                    field.name, field.ty
                ));
            self.report(d.or_code(rules::METADATA));
        }
        for m in &field.metadata {
            if let MetadataKind::ProtobufField { ty, .. } = &m.kind
                && !protobuf_fits(ty, &field.ty)
            {
                let d = self
                    .at(
                        m.pos.as_ref().or(field.pos.as_ref()),
                        site,
                        format!(
                            "field `{}` of type {} cannot hold protobuf `{ty}` values",
                            field.name, field.ty
                        ),
                    )
                    .with_help(
                        "the `+protobuf` type says how the field's JSON is read: \
                         integer types go with Int, float and double with Float, \
                         Duration and FieldMask with String, Timestamp with Time, \
                         Struct, Value, ListValue and Any with Any, messages and \
                         enums with references; re-import the realm to regenerate it",
                    );
                self.report(d.or_code(rules::METADATA));
            }
        }
    }
}

/// Whether a field of realm type `ty` can hold values of protobuf type
/// `proto` (an optional, list or map around it included).
fn protobuf_fits(proto: &ProtoType, ty: &Type) -> bool {
    let ty = match ty {
        Type::Optional(inner) => inner,
        other => other,
    };
    match (ty, proto.key) {
        (Type::Map(k, v), Some(key)) => kind_fits(key, k) && kind_fits(proto.value, v),
        (Type::Map(..), None) => false,
        (_, Some(_)) => false,
        (Type::List(element), None) => {
            !matches!(**element, Type::List(_) | Type::Map(..)) && kind_fits(proto.value, element)
        }
        (other, None) => kind_fits(proto.value, other),
    }
}

/// Whether one value of protobuf `kind` is a value of realm type `ty`.
fn kind_fits(kind: ProtoKind, ty: &Type) -> bool {
    let ty = match ty {
        Type::Optional(inner) => inner,
        other => other,
    };
    match kind.json_form() {
        JsonForm::Int(_) => matches!(ty, Type::Int),
        JsonForm::Float { .. } => matches!(ty, Type::Float),
        JsonForm::Bool => matches!(ty, Type::Bool),
        JsonForm::String | JsonForm::Duration | JsonForm::FieldMask => {
            matches!(ty, Type::String)
        }
        JsonForm::Bytes => matches!(ty, Type::Bytes),
        JsonForm::Timestamp => matches!(ty, Type::Time),
        JsonForm::Empty => matches!(ty, Type::Unit),
        JsonForm::Struct
        | JsonForm::Value
        | JsonForm::ListValue
        | JsonForm::Any
        | JsonForm::NullValue => matches!(ty, Type::Any),
        JsonForm::Enum | JsonForm::Message => matches!(ty, Type::Ref(_)),
    }
}
