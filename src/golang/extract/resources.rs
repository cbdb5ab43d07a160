//! Configs, secrets and topics (`go-runtime/schema/{config,secret,topic}`):
//! aliases of FTL's SDK handles, `type Key = ftl.Config[T]`,
//! `ftl.Secret[T]`, `ftl.TopicHandle[E, M]`. Databases come from
//! `//ftl:database` and the module's `db/` directories instead.

use crate::schema::{Config, Decl, Metadata, MetadataKind, Secret, ThinVec, Topic};

use super::{Extractor, Kind, Meta, at};
use crate::golang::directives::DirectiveKind;
use crate::golang::naming::lower_camel;
use crate::golang::scope::Imported;
use crate::golang::syntax::{GoType, TypeDecl};
use crate::golang::types::{Handle, Site, What, go_text};

impl<'a> Extractor<'a> {
    /// Configs, secrets and topics: every alias of an SDK handle.
    pub(super) fn resources(&mut self) {
        let scope = self.scope;
        for (fi, file) in scope.files.iter().enumerate() {
            let dir = file.package_dir.as_str();
            for t in &file.syntax.types {
                let Some(handle) = self.types.handle_of(dir, t) else {
                    if self.metas.get(&(dir, t.name.as_str())).and_then(|m| m.kind)
                        == Some(Kind::Topic)
                    {
                        self.report(
                            at(&t.name_span, "`//ftl:topic` annotates a topic handle").with_help(
                                "declare the topic as `type Name = ftl.TopicHandle[Event, \
                                 ftl.SinglePartitionMap[Event]]`",
                            ),
                        );
                    }
                    continue;
                };
                if !t.alias {
                    self.report(
                        at(
                            &t.name_span,
                            format!("`{}` must be an alias of {}", t.name, handle.sdk_name()),
                        )
                        .with_help(format!(
                            "write `type {} = {}` (with `=`): FTL only sees aliases",
                            t.name,
                            go_text(&t.ty)
                        )),
                    );
                    continue;
                }
                let meta = self
                    .metas
                    .get(&(dir, t.name.as_str()))
                    .cloned()
                    .unwrap_or_default();
                if meta.broken {
                    continue;
                }
                let GoType::Name { args, .. } = &t.ty else {
                    continue;
                };
                let name = lower_camel(&t.name);
                let site = Site {
                    file: fi,
                    dir,
                    params: &[],
                    what: What::Handle {
                        handle: handle.sdk_name(),
                        name: &name,
                    },
                };
                match handle {
                    Handle::Config | Handle::Secret => {
                        let [arg] = args.as_slice() else {
                            self.report(
                                at(
                                    &t.name_span,
                                    format!("{} takes one type argument", handle.sdk_name()),
                                )
                                .with_help(format!("write `{}[T]`", handle.sdk_name())),
                            );
                            continue;
                        };
                        let Some(ty) = self.types.ty(arg, &site, 0) else {
                            continue;
                        };
                        let pos = Some(t.name_span.pos.clone());
                        self.decls.push(if handle == Handle::Config {
                            Decl::Config(Config {
                                pos,
                                comments: meta.comments.into(),
                                name,
                                ty,
                            })
                        } else {
                            Decl::Secret(Secret {
                                pos,
                                comments: meta.comments.into(),
                                name,
                                ty,
                            })
                        });
                    }
                    Handle::Topic => self.topic(t, &meta, args, &site, name.clone()),
                    Handle::Database => {}
                }
            }
        }
    }

    fn topic(
        &mut self,
        t: &'a TypeDecl,
        meta: &Meta,
        args: &'a [GoType],
        site: &Site,
        name: String,
    ) {
        let [event, mapper] = args else {
            self.report(
                at(&t.name_span, "unsupported topic type: ftl.TopicHandle takes two type arguments")
                    .with_help("write `ftl.TopicHandle[Event, ftl.SinglePartitionMap[Event]]` or name a partition mapper"),
            );
            return;
        };
        let Some(event) = self.types.ty(event, site, 0) else {
            return;
        };
        let mut metadata = Vec::new();
        let mut partitions = 1;
        for d in &meta.directives {
            if let DirectiveKind::Topic { partitions: n, .. } = d.kind {
                partitions = n;
                metadata.push(Metadata {
                    pos: Some(d.pos.clone()),
                    kind: MetadataKind::Partitions(n),
                });
            }
        }
        if let GoType::Name {
            package: Some(p),
            name: mapper_name,
            span,
            ..
        } = mapper
            && mapper_name == "SinglePartitionMap"
            && self.scope.import(site.file, p) == Some(Imported::Sdk)
            && partitions > 1
        {
            self.report(
                at(
                    span,
                    "single partition map can not have more than one partition",
                )
                .with_help("use a partition mapper type, or `partitions=1`"),
            );
        }
        self.decls.push(Decl::Topic(Topic {
            pos: Some(t.name_span.pos.clone()),
            comments: ThinVec::from(meta.comments.as_slice()),
            visibility: meta.visibility,
            name,
            event,
            metadata: metadata.into(),
        }));
    }
}
