// The signed-in user's personal tokens: create with an expiry and scopes, copy once, revoke.
import { useState } from "react";
import type { Token } from "@/api/types";
import { Badge, Button, ConfirmDialog, EmptyState, ErrorState, Loading, PageHeader, Pagination } from "@/components/ui";
import { useCurrentUser } from "@/features/auth/api/getCurrentUser";
import { formatDateTime, formatRelative } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { useTokens } from "../api/listTokens";
import { useRevokeToken } from "../api/revokeToken";
import { CreateTokenDialog } from "../components/CreateTokenDialog";

export default function TokensPage() {
  const [state, update] = useListParams({ sort: "-created_at" });
  const tokens = useTokens({ page: state.page, page_size: state.pageSize });
  const user = useCurrentUser();
  const revoke = useRevokeToken();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Token | null>(null);

  let body;
  if (tokens.isPending) body = <Loading label="Loading tokens…" />;
  else if (tokens.isError) body = <ErrorState error={tokens.error} onRetry={() => tokens.refetch()} />;
  else if (tokens.data.count === 0)
    body = (
      <EmptyState title="No personal tokens" action={<Button variant="primary" onClick={() => setCreating(true)}>Create a token</Button>}>
        A token acts as you for <code>docker login</code>, podman, skopeo and scripts, without giving away your password.
      </EmptyState>
    );
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Starts with</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.results.map((token) => (
                <tr key={token.id}>
                  <td>
                    {token.name} {token.expired ? <Badge tone="danger">Expired</Badge> : null}
                  </td>
                  <td>
                    <code>{token.prefix}…</code>
                  </td>
                  <td>
                    {token.scopes.map((scope) => (
                      <Badge key={scope}>{scope}</Badge>
                    ))}
                  </td>
                  <td title={token.created_at}>{formatRelative(token.created_at)}</td>
                  <td title={token.expires_at ?? "never"}>{token.expires_at ? formatDateTime(token.expires_at) : "Never"}</td>
                  <td>{formatRelative(token.last_used_at)}</td>
                  <td className="actions">
                    <Button size="sm" variant="ghost" onClick={() => setRevoking(token)} aria-label={`Revoke ${token.name}`}>
                      Revoke
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={tokens.data.count} noun="tokens" onPage={(page) => update({ page })} />
      </>
    );

  return (
    <>
      <PageHeader
        title="Personal tokens"
        actions={
          <Button variant="primary" onClick={() => setCreating(true)}>
            New token
          </Button>
        }
      >
        <p className="muted">Tokens act as you from the command line. Each is shown once; revoke any you no longer use.</p>
      </PageHeader>
      {body}
      <CreateTokenDialog open={creating} onClose={() => setCreating(false)} username={user.data?.username ?? "USERNAME"} />
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? ""}?`}
        confirmLabel="Revoke token"
        onClose={() => setRevoking(null)}
        onConfirm={() => revoke.mutateAsync(revoking!.id)}
      >
        <p>Anything still using it (docker logins, scripts) will be refused from now on.</p>
      </ConfirmDialog>
    </>
  );
}
