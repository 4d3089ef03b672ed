// A repository: its artifacts (or all its tags) with digests, sizes, platforms, times and pull commands;
// tags and artifacts deleted with confirmation by those allowed. Everything is paged on the server.
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import type { ArtifactSummary } from "@/api/types";
import { Button, ConfirmDialog, CopyButton, CopyField, EmptyState, ErrorState, Loading, PageHeader, Pagination, SearchInput, SortHeader } from "@/components/ui";
import { ErrorOrSignIn } from "@/features/auth/components/ErrorOrSignIn";
import { useProjectAccess } from "@/features/auth/usePermissions";
import { useDeleteArtifact } from "@/features/artifacts/api/deleteArtifact";
import { useDeleteTag } from "@/features/artifacts/api/deleteTag";
import { useArtifacts } from "@/features/artifacts/api/listArtifacts";
import { useRepositoryTags } from "@/features/artifacts/api/listRepositoryTags";
import { AccessoryCounts, KindBadge } from "@/features/artifacts/components/Kind";
import { Platforms } from "@/features/artifacts/components/Platforms";
import { pullCommandFor, type PullClient } from "@/features/artifacts/components/PullCommand";
import { formatBytes, formatRelative, plural, shortDigest } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { TagHistoryPanel } from "@/features/policies/components/TagHistoryPanel";
import { useDeleteRepository } from "../api/deleteRepository";
import { useRepository } from "../api/getRepository";
import { artifactUrl } from "../paths";

type Pending = { kind: "tag"; digest: string; tag: string } | { kind: "artifact"; artifact: ArtifactSummary } | { kind: "repository" };

export default function RepositoryPage() {
  const params = useParams();
  const project = params.project!;
  const name = params.repository!;
  const repository = useRepository(project, name);
  const access = useProjectAccess(project);
  const [view, setView] = useState<"artifacts" | "tags">("artifacts");
  const [client, setClient] = useState<PullClient>("docker");
  const [pending, setPending] = useState<Pending | null>(null);
  const deleteTag = useDeleteTag(project, name);
  const deleteArtifact = useDeleteArtifact(project, name);
  const deleteRepository = useDeleteRepository(project);
  const navigate = useNavigate();

  if (repository.isPending) return <Loading label="Loading the repository…" />;
  if (repository.isError) return <ErrorOrSignIn error={repository.error} onRetry={() => repository.refetch()} title={`Repository “${name}” could not be opened`} />;
  const repo = repository.data;

  const confirm = async () => {
    if (!pending) return;
    if (pending.kind === "tag") await deleteTag.mutateAsync({ digest: pending.digest, tag: pending.tag });
    else if (pending.kind === "artifact") await deleteArtifact.mutateAsync(pending.artifact.digest);
    else {
      await deleteRepository.mutateAsync(name);
      navigate(`/projects/${encodeURIComponent(project)}/repositories`, { replace: true });
    }
  };

  return (
    <>
      <PageHeader
        title={repo.name}
        crumbs={[
          { to: "/projects", label: "Projects" },
          { to: `/projects/${encodeURIComponent(project)}/repositories`, label: project },
        ]}
        actions={
          access.can("repository:delete") ? (
            <Button variant="danger" onClick={() => setPending({ kind: "repository" })}>
              Delete repository
            </Button>
          ) : null
        }
      >
        <div className="row muted small">
          <span>{plural(repo.artifact_count, "artifact")}</span>·<span>{plural(repo.tag_count, "tag")}</span>·<span>{formatBytes(repo.size)}</span>·
          <span>last push {formatRelative(repo.pushed_at)}</span>·<span>{plural(repo.pull_count, "pull")}</span>
        </div>
      </PageHeader>
      <div className="toolbar">
        <span className="segmented" role="group" aria-label="Show">
          <button type="button" aria-pressed={view === "artifacts"} onClick={() => setView("artifacts")}>
            Artifacts
          </button>
          <button type="button" aria-pressed={view === "tags"} onClick={() => setView("tags")}>
            All tags
          </button>
        </span>
        <span className="spacer" />
        <span className="segmented" role="group" aria-label="Pull with">
          {(["docker", "podman"] as const).map((option) => (
            <button key={option} type="button" aria-pressed={client === option} onClick={() => setClient(option)}>
              {option}
            </button>
          ))}
        </span>
      </div>
      {view === "artifacts" ? (
        <ArtifactsTable
          project={project}
          repository={name}
          client={client}
          canDeleteTag={access.can("tag:delete")}
          canDeleteArtifact={access.can("artifact:delete")}
          onDeleteTag={(digest, tag) => setPending({ kind: "tag", digest, tag })}
          onDeleteArtifact={(artifact) => setPending({ kind: "artifact", artifact })}
        />
      ) : (
        <TagsTable project={project} repository={name} client={client} canDeleteTag={access.can("tag:delete")} onDeleteTag={(digest, tag) => setPending({ kind: "tag", digest, tag })} />
      )}
      <TagHistoryPanel project={project} repository={name} canRestore={access.can("tag:create")} />
      <ConfirmDialog
        open={pending !== null}
        title={
          pending?.kind === "tag"
            ? `Delete tag ${pending.tag}?`
            : pending?.kind === "artifact"
              ? `Delete artifact ${shortDigest(pending.artifact.digest)}?`
              : `Delete repository ${repo.name}?`
        }
        confirmLabel={pending?.kind === "tag" ? "Delete tag" : pending?.kind === "artifact" ? "Delete artifact" : "Delete repository"}
        typeToConfirm={pending?.kind === "repository" ? repo.short_name : undefined}
        onClose={() => setPending(null)}
        onConfirm={confirm}
      >
        {pending?.kind === "tag" ? (
          <p>
            The tag <code>{pending.tag}</code> is removed; the artifact {shortDigest(pending.digest)} stays and can still be pulled by digest.
          </p>
        ) : pending?.kind === "artifact" ? (
          <p>
            The artifact <code>{pending.artifact.digest}</code>
            {pending.artifact.tag_count > 0 ? ` and its ${pending.artifact.tag_count} tag(s)` : ""} will be deleted. Anything pulling it will fail.
          </p>
        ) : (
          <p>Every artifact and tag in {repo.name} will be deleted. This cannot be undone.</p>
        )}
      </ConfirmDialog>
    </>
  );
}

interface TableProps {
  project: string;
  repository: string;
  client: PullClient;
  canDeleteTag: boolean;
  onDeleteTag: (digest: string, tag: string) => void;
}

function TagChip({ tag, digest, canDelete, onDelete }: { tag: string; digest: string; canDelete: boolean; onDelete: (digest: string, tag: string) => void }) {
  return (
    <span className="badge badge-info tag-chip">
      <span>{tag}</span>
      {canDelete ? (
        <button type="button" className="tag-remove" aria-label={`Delete tag ${tag}`} title={`Delete tag ${tag}`} onClick={() => onDelete(digest, tag)}>
          ×
        </button>
      ) : null}
    </span>
  );
}

function ArtifactsTable({ project, repository, client, canDeleteTag, canDeleteArtifact, onDeleteTag, onDeleteArtifact }: TableProps & { canDeleteArtifact: boolean; onDeleteArtifact: (artifact: ArtifactSummary) => void }) {
  const [state, update] = useListParams({ sort: "-pushed_at" });
  const artifacts = useArtifacts(project, repository, { q: state.q, sort: state.sort, page: state.page, page_size: state.pageSize });
  const sortHeader = (field: string, label: string, numeric = false) => (
    <SortHeader numeric={numeric} field={field} sort={state.sort} onSort={(sort) => update({ sort })}>
      {label}
    </SortHeader>
  );
  let body;
  if (artifacts.isPending) body = <Loading label="Loading artifacts…" />;
  else if (artifacts.isError) body = <ErrorState error={artifacts.error} onRetry={() => artifacts.refetch()} />;
  else if (artifacts.data.count === 0) body = <EmptyState title={state.q ? `No artifact matches “${state.q}”` : "No artifacts"}>{state.q ? "Search matches part of a tag or the start of a digest." : null}</EmptyState>;
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                {sortHeader("digest", "Artifact")}
                <th scope="col">Tags</th>
                {sortHeader("size", "Size", true)}
                <th scope="col">Platforms</th>
                {sortHeader("pushed_at", "Pushed")}
                {sortHeader("last_pulled_at", "Last pull")}
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {artifacts.data.results.map((artifact) => {
                const command = artifact.tags[0]?.pull_command ?? artifact.pull_command;
                return (
                  <tr key={artifact.digest}>
                    <td>
                      <span className="row" style={{ gap: ".25rem", flexWrap: "nowrap" }}>
                        <Link to={artifactUrl(project, repository, artifact.digest)} title={artifact.digest}>
                          <code>{shortDigest(artifact.digest)}</code>
                        </Link>
                        <CopyButton text={artifact.digest} label="Copy digest" />
                        <KindBadge kind={artifact.kind} artifactType={artifact.artifact_type} />
                      </span>
                      <AccessoryCounts accessories={artifact.accessories} total={artifact.accessory_count} />
                    </td>
                    <td>
                      <span className="row" style={{ gap: ".3rem" }}>
                        {artifact.tags.length === 0 ? <span className="muted">untagged</span> : null}
                        {artifact.tags.map((tag) => (
                          <TagChip key={tag.name} tag={tag.name} digest={artifact.digest} canDelete={canDeleteTag} onDelete={onDeleteTag} />
                        ))}
                        {artifact.tag_count > artifact.tags.length ? (
                          <Link className="small" to={artifactUrl(project, repository, artifact.digest)}>
                            +{(artifact.tag_count - artifact.tags.length).toLocaleString("en")} more
                          </Link>
                        ) : null}
                      </span>
                    </td>
                    <td className="num">{formatBytes(artifact.size)}</td>
                    <td>
                      <Platforms platforms={artifact.platforms} />
                    </td>
                    <td title={artifact.pushed_at}>{formatRelative(artifact.pushed_at)}</td>
                    <td title={artifact.last_pulled_at ?? ""}>{formatRelative(artifact.last_pulled_at)}</td>
                    <td className="actions">
                      <CopyButton text={pullCommandFor(command, client)} label="Copy pull command" />
                      {canDeleteArtifact ? (
                        <Button size="sm" variant="ghost" onClick={() => onDeleteArtifact(artifact)} aria-label={`Delete artifact ${shortDigest(artifact.digest)}`}>
                          Delete
                        </Button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={artifacts.data.count} noun="artifacts" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} />
      </>
    );
  return (
    <>
      <div className="toolbar">
        <SearchInput label="Search by tag or digest" value={state.q} onSearch={(q) => update({ q })} />
      </div>
      {body}
    </>
  );
}

function TagsTable({ project, repository, client, canDeleteTag, onDeleteTag }: TableProps) {
  const [state, update] = useListParams({ sort: "name" }, "t_");
  const tags = useRepositoryTags(project, repository, { q: state.q, sort: state.sort, page: state.page, page_size: state.pageSize });
  let body;
  if (tags.isPending) body = <Loading label="Loading tags…" />;
  else if (tags.isError) body = <ErrorState error={tags.error} onRetry={() => tags.refetch()} />;
  else if (tags.data.count === 0) body = <EmptyState title={state.q ? `No tag matches “${state.q}”` : "No tags"} />;
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <SortHeader field="name" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Tag
                </SortHeader>
                <th scope="col">Digest</th>
                <th scope="col" className="num">
                  Size
                </th>
                <SortHeader field="pushed_at" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Pushed
                </SortHeader>
                <SortHeader field="last_pulled_at" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Last pull
                </SortHeader>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tags.data.results.map((tag) => (
                <tr key={tag.name}>
                  <td>
                    <Link to={artifactUrl(project, repository, tag.digest)}>{tag.name}</Link>
                  </td>
                  <td>
                    <CopyField value={tag.digest} display={shortDigest(tag.digest)} label="Copy digest" />
                  </td>
                  <td className="num">{formatBytes(tag.size)}</td>
                  <td title={tag.pushed_at}>{formatRelative(tag.pushed_at)}</td>
                  <td>{formatRelative(tag.last_pulled_at)}</td>
                  <td className="actions">
                    <CopyButton text={pullCommandFor(tag.pull_command, client)} label="Copy pull command" />
                    {canDeleteTag ? (
                      <Button size="sm" variant="ghost" onClick={() => onDeleteTag(tag.digest, tag.name)} aria-label={`Delete tag ${tag.name}`}>
                        Delete
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={tags.data.count} noun="tags" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} sizes={[25, 100, 500]} />
      </>
    );
  return (
    <>
      <div className="toolbar">
        <SearchInput label="Search tags" value={state.q} onSearch={(q) => update({ q })} />
      </div>
      {body}
    </>
  );
}
