// One artifact: its kind, pull command, tags, runtime config, layers with the command behind each, an index's
// children, its accessories (signatures, SBOMs and other referrers), and the raw manifest.
import { useState } from "react";
import { Link, useParams } from "react-router";
import type { ArtifactKind } from "@/api/types";
import { Badge, Button, CopyField, EmptyState, ErrorState, Loading, PageHeader, Pagination } from "@/components/ui";
import { ErrorOrSignIn } from "@/features/auth/components/ErrorOrSignIn";
import { useProjectAccess } from "@/features/auth/usePermissions";
import { useArtifactContainers } from "@/features/fleet/api/containers";
import { ContainerStatus } from "@/features/fleet/components/ContainerStatus";
import { RunContainerDialog } from "@/features/fleet/components/RunContainerDialog";
import { artifactUrl, repositoryUrl } from "@/features/repositories/paths";
import { formatBytes, formatDateTime, formatRelative, shortDigest } from "@/lib/format";
import { useArtifact } from "../api/getArtifact";
import { useArtifactTags } from "../api/listArtifactTags";
import { KindBadge, kindLabel } from "../components/Kind";
import { Platforms, platformLabel } from "../components/Platforms";
import { PullCommand } from "../components/PullCommand";

interface RuntimeConfig {
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  working_dir?: string;
  user?: string;
  exposed_ports?: string[];
  volumes?: string[];
  labels?: Record<string, string>;
  author?: string;
  created?: string | null;
}

interface Layer {
  digest: string;
  media_type: string;
  size: number;
  created_by: string;
  created?: string | null;
  comment?: string;
}

interface Child {
  digest: string;
  media_type: string;
  size: number;
  kind: ArtifactKind;
  platform?: { os?: string; architecture?: string; variant?: string };
}

const shellWords = (words: string[] | undefined) => (words && words.length > 0 ? JSON.stringify(words) : "—");

/** Docker's history shows `/bin/sh -c #(nop) ` before metadata steps; the instruction alone reads better. */
export const cleanCommand = (command: string) => command.replace(/^\/bin\/sh -c #\(nop\)\s*/, "").replace(/^\/bin\/sh -c /, "RUN ");

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export default function ArtifactPage() {
  const params = useParams();
  const project = params.project!;
  const repository = params.repository!;
  const reference = params.reference!;
  const artifact = useArtifact(project, repository, reference);
  const [tagPage, setTagPage] = useState(1);
  const tags = useArtifactTags(project, repository, reference, { page: tagPage, page_size: 50, sort: "name" });
  const [showManifest, setShowManifest] = useState(false);
  const [running, setRunning] = useState(false);
  const access = useProjectAccess(project);
  const containers = useArtifactContainers(project, repository, reference, access.can("container:list"));

  if (artifact.isPending) return <Loading label="Loading the artifact…" />;
  if (artifact.isError) return <ErrorOrSignIn error={artifact.error} onRetry={() => artifact.refetch()} title="This artifact could not be opened" />;
  const data = artifact.data;
  const config = (data.config ?? null) as RuntimeConfig | null;
  const layers = data.layers as unknown as Layer[];
  const children = data.children as unknown as Child[];
  const command = data.tags[0]?.pull_command ?? data.pull_command;
  const labels = { ...(config?.labels ?? {}) };

  return (
    <>
      <PageHeader
        documentTitle={data.tags[0] ? `${repository}:${data.tags[0].name}` : `${repository}@${shortDigest(data.digest)}`}
        title={
          <>
            {data.tags[0] ? `${repository}:${data.tags[0].name}` : `${repository}@${shortDigest(data.digest)}`} <KindBadge kind={data.kind} artifactType={data.artifact_type} />
          </>
        }
        crumbs={[
          { to: "/projects", label: "Projects" },
          { to: `/projects/${encodeURIComponent(project)}/repositories`, label: project },
          { to: repositoryUrl(project, repository), label: repository },
        ]}
      />
      <div className="stack">
        <section className="card stack" aria-label="Summary">
          <dl className="details">
            <dt>Digest</dt>
            <dd>
              <CopyField value={data.digest} label="Copy digest" />
            </dd>
            <dt>Kind</dt>
            <dd>
              {kindLabel(data.kind)}
              {data.kind === "artifact" && data.artifact_type ? (
                <>
                  {" "}
                  <code>{data.artifact_type}</code>
                </>
              ) : null}
            </dd>
            <dt>Media type</dt>
            <dd>
              <code>{data.media_type}</code>
            </dd>
            <dt>Size</dt>
            <dd>{formatBytes(data.size)}</dd>
            <dt>Platforms</dt>
            <dd>
              <Platforms platforms={data.platforms} />
            </dd>
            <dt>Created</dt>
            <dd>{formatDateTime(data.created)}</dd>
            <dt>Pushed</dt>
            <dd>
              {formatDateTime(data.pushed_at)}
              {data.pushed_by ? ` by ${data.pushed_by}` : ""}
            </dd>
            <dt>Pulls</dt>
            <dd>
              {data.pull_count.toLocaleString("en")} (last {formatRelative(data.last_pulled_at)})
            </dd>
            {data.subject_digest ? (
              <>
                <dt>Refers to</dt>
                <dd>
                  <Link to={artifactUrl(project, repository, data.subject_digest)}>{shortDigest(data.subject_digest)}</Link>
                </dd>
              </>
            ) : null}
            {data.parents.length > 0 ? (
              <>
                <dt>Part of</dt>
                <dd className="row">
                  {data.parents.map((parent) => (
                    <Link key={parent} to={artifactUrl(project, repository, parent)}>
                      {shortDigest(parent)}
                    </Link>
                  ))}
                </dd>
              </>
            ) : null}
          </dl>
          <PullCommand command={command} />
        </section>

        <Section title={`Tags (${data.tag_count.toLocaleString("en")})`}>
          {tags.isPending ? (
            <Loading />
          ) : tags.isError ? (
            <ErrorState error={tags.error} onRetry={() => tags.refetch()} />
          ) : tags.data.count === 0 ? (
            <p className="muted">No tags: pull it by digest.</p>
          ) : (
            <>
              <div className="row">
                {tags.data.results.map((tag) => (
                  <Badge key={tag.name} tone="info">
                    {tag.name}
                  </Badge>
                ))}
              </div>
              {tags.data.count > 50 ? <Pagination page={tagPage} pageSize={50} count={tags.data.count} noun="tags" onPage={setTagPage} /> : null}
            </>
          )}
        </Section>

        {data.is_index ? (
          <Section title={`${data.kind === "image_index" ? "Platforms" : "Manifests"} in this index (${children.length})`}>
            {children.length === 0 ? (
              <p className="muted">This index lists no manifests.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Platform</th>
                      <th scope="col">Kind</th>
                      <th scope="col">Digest</th>
                      <th scope="col" className="num">
                        Size
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {children.map((child) => (
                      <tr key={child.digest}>
                        <td>{child.platform ? platformLabel({ os: child.platform.os ?? "", architecture: child.platform.architecture ?? "", variant: child.platform.variant }) : "—"}</td>
                        <td>
                          <KindBadge kind={child.kind} />
                        </td>
                        <td>
                          <Link to={artifactUrl(project, repository, child.digest)}>
                            <code>{shortDigest(child.digest)}</code>
                          </Link>
                        </td>
                        <td className="num">{formatBytes(child.size)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
        ) : null}

        {config ? (
          <Section title="Configuration">
            <dl className="details">
              <dt>Entrypoint</dt>
              <dd>
                <code>{shellWords(config.entrypoint)}</code>
              </dd>
              <dt>Command</dt>
              <dd>
                <code>{shellWords(config.cmd)}</code>
              </dd>
              <dt>Working directory</dt>
              <dd>{config.working_dir ? <code>{config.working_dir}</code> : "—"}</dd>
              <dt>User</dt>
              <dd>{config.user ? <code>{config.user}</code> : "—"}</dd>
              <dt>Ports</dt>
              <dd>{config.exposed_ports && config.exposed_ports.length > 0 ? config.exposed_ports.map((port) => <Badge key={port}>{port}</Badge>) : "—"}</dd>
              <dt>Volumes</dt>
              <dd>{config.volumes && config.volumes.length > 0 ? config.volumes.map((volume) => <code key={volume}>{volume} </code>) : "—"}</dd>
              <dt>Environment</dt>
              <dd>
                {config.env && config.env.length > 0 ? (
                  <ul className="plain-list">
                    {config.env.map((entry) => (
                      <li key={entry}>
                        <code>{entry}</code>
                      </li>
                    ))}
                  </ul>
                ) : (
                  "—"
                )}
              </dd>
              <dt>Labels</dt>
              <dd>
                {Object.keys(labels).length > 0 ? (
                  <ul className="plain-list">
                    {Object.entries(labels).map(([key, value]) => (
                      <li key={key}>
                        <code>
                          {key}={value}
                        </code>
                      </li>
                    ))}
                  </ul>
                ) : (
                  "—"
                )}
              </dd>
            </dl>
          </Section>
        ) : null}

        {!data.is_index ? (
          <Section title={`Layers (${layers.length})`}>
            {layers.length === 0 ? (
              <p className="muted">No layers.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">Made by</th>
                      <th scope="col" className="num">
                        Size
                      </th>
                      <th scope="col">Digest</th>
                    </tr>
                  </thead>
                  <tbody>
                    {layers.map((layer, position) => (
                      <tr key={`${layer.digest}-${position}`}>
                        <td>{position + 1}</td>
                        <td>
                          <code className="wrap-code">{layer.created_by ? cleanCommand(layer.created_by) : "—"}</code>
                        </td>
                        <td className="num">{formatBytes(layer.size)}</td>
                        <td>
                          <CopyField value={layer.digest} display={shortDigest(layer.digest)} label="Copy digest" />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
        ) : null}

        {data.runnable && access.can("container:list") ? (
          <Section title="Where it runs">
            {containers.isPending ? (
              <Loading />
            ) : containers.isError ? (
              <ErrorState error={containers.error} onRetry={() => containers.refetch()} />
            ) : containers.data.count === 0 ? (
              <p className="muted">No container runs this artifact.</p>
            ) : (
              <ul className="plain-list stack" style={{ gap: ".4rem" }}>
                {containers.data.results.map((container) => (
                  <li key={container.id} className="row">
                    <strong>{container.name}</strong>
                    <span className="muted">on {container.host || "no host yet"}</span>
                    <ContainerStatus container={container} />
                  </li>
                ))}
              </ul>
            )}
            {access.can("container:create") ? (
              <div style={{ marginTop: ".75rem" }}>
                <Button onClick={() => setRunning(true)}>Run on a host</Button>
              </div>
            ) : null}
            {running ? <RunContainerDialog project={project} open repository={repository} reference={data.tags[0]?.name ?? data.digest} onClose={() => setRunning(false)} /> : null}
          </Section>
        ) : null}

        <Section title={`Accessories (${data.accessory_count.toLocaleString("en")})`}>
          {data.accessories.length === 0 ? (
            <EmptyState title="No accessories">Signatures, SBOMs and other artifacts pushed with this one as their subject appear here.</EmptyState>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Kind</th>
                    <th scope="col">Type</th>
                    <th scope="col">Digest</th>
                    <th scope="col" className="num">
                      Size
                    </th>
                    <th scope="col">Pushed</th>
                  </tr>
                </thead>
                <tbody>
                  {data.accessories.map((accessory) => (
                    <tr key={accessory.digest}>
                      <td>
                        <KindBadge kind={accessory.kind} />
                      </td>
                      <td>
                        <code>{accessory.artifact_type || accessory.media_type}</code>
                      </td>
                      <td>
                        <Link to={artifactUrl(project, repository, accessory.digest)}>
                          <code>{shortDigest(accessory.digest)}</code>
                        </Link>
                      </td>
                      <td className="num">{formatBytes(accessory.size)}</td>
                      <td title={accessory.pushed_at}>{formatRelative(accessory.pushed_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Section>

        <Section title="Manifest">
          <button type="button" className="btn btn-secondary btn-sm" aria-expanded={showManifest} onClick={() => setShowManifest((shown) => !shown)}>
            {showManifest ? "Hide the manifest" : "Show the manifest"}
          </button>
          {showManifest ? <pre>{JSON.stringify(data.manifest, null, 2)}</pre> : null}
        </Section>
      </div>
    </>
  );
}
