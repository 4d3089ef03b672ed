// The time machine on a repository's page: a tag's changes, with a restore button where the window allows it.
import { useState } from "react";
import { Button, ErrorMessage, Loading } from "@/components/ui";
import { useRestoreTag, useTagHistory } from "../api/tagHistory";

export function TagHistoryPanel({ project, repository, canRestore }: { project: string; repository: string; canRestore: boolean }) {
  const [draft, setDraft] = useState("");
  const [tag, setTag] = useState("");
  const history = useTagHistory(project, repository, tag);
  const restore = useRestoreTag(project, repository, tag);
  return (
    <section className="card stack" aria-labelledby="tag-history-title">
      <h2 id="tag-history-title">Tag history</h2>
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          setTag(draft.trim());
          restore.reset();
        }}
      >
        <input aria-label="Tag" placeholder="tag" value={draft} onChange={(e) => setDraft(e.target.value)} />
        <Button type="submit" disabled={!draft.trim()}>
          Show history
        </Button>
      </form>
      {tag && history.isPending ? <Loading label="Loading the history…" /> : null}
      {history.error ? <ErrorMessage error={history.error} /> : null}
      {history.data ? (
        <>
          <p className="muted">
            {history.data.window_days === 0 ? "The time machine is off for this project." : `Changes of the last ${history.data.window_days} days can be restored.`}
          </p>
          <table className="table" aria-label={`History of ${tag}`}>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Change</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">By</th>
                <th scope="col" />
              </tr>
            </thead>
            <tbody>
              {history.data.events.map((event) => (
                <tr key={event.id}>
                  <td>{new Date(event.at).toLocaleString()}</td>
                  <td>{event.action}</td>
                  <td className="mono">{event.from_digest ? event.from_digest.slice(0, 19) : ""}</td>
                  <td className="mono">{event.to_digest ? event.to_digest.slice(0, 19) : ""}</td>
                  <td>{event.actor}</td>
                  <td>
                    {canRestore && event.restorable ? (
                      <Button busy={restore.isPending} onClick={() => restore.mutate(event.from_digest!)}>
                        Restore {event.from_digest!.slice(7, 19)}
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {restore.isSuccess ? (
        <div className="alert alert-success" role="status">
          Restored {tag}.
        </div>
      ) : null}
      {restore.error ? <ErrorMessage error={restore.error} /> : null}
    </section>
  );
}
