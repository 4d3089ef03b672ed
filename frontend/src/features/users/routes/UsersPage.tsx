// Administration of users: create, disable or enable, reset password, delete.
import { useState } from "react";
import type { User } from "@/api/types";
import { Badge, Button, ConfirmDialog, EmptyState, ErrorMessage, ErrorState, Loading, PageHeader, Pagination, SearchInput, SortHeader } from "@/components/ui";
import { useCurrentUser } from "@/features/auth/api/getCurrentUser";
import { formatRelative } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { useDeleteUser } from "../api/deleteUser";
import { useUsers } from "../api/listUsers";
import { useUpdateUser } from "../api/updateUser";
import { CreateUserDialog } from "../components/CreateUserDialog";
import { ResetPasswordDialog } from "../components/ResetPasswordDialog";

export default function UsersPage() {
  const [state, update] = useListParams({ sort: "username" });
  const users = useUsers({ username: state.q, sort: state.sort, page: state.page, page_size: state.pageSize });
  const me = useCurrentUser();
  const change = useUpdateUser();
  const remove = useDeleteUser();
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);

  let body;
  if (users.isPending) body = <Loading label="Loading users…" />;
  else if (users.isError) body = <ErrorState error={users.error} onRetry={() => users.refetch()} />;
  else if (users.data.count === 0) body = <EmptyState title={`No user matches “${state.q}”`} />;
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <SortHeader field="username" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Username
                </SortHeader>
                <th scope="col" className="hide-phone">
                  Email
                </th>
                <th scope="col">Status</th>
                <th scope="col" className="hide-phone">
                  Last sign-in
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.results.map((user) => {
                const self = user.username === me.data?.username;
                return (
                  <tr key={user.id}>
                    <td>
                      {user.username} {user.display_name ? <span className="muted">({user.display_name})</span> : null}
                    </td>
                    <td className="hide-phone">{user.email || <span className="muted">—</span>}</td>
                    <td>
                      <span className="row">
                        {user.is_active ? <Badge tone="success">Active</Badge> : <Badge tone="danger">Disabled</Badge>}
                        {user.is_admin ? <Badge tone="warning">Admin</Badge> : null}
                      </span>
                    </td>
                    <td className="hide-phone">{formatRelative(user.last_login)}</td>
                    <td className="actions">
                      <Button
                        size="sm"
                        variant="ghost"
                        disabled={self}
                        title={self ? "You cannot disable your own account" : undefined}
                        onClick={() => change.mutate({ username: user.username, changes: { is_active: !user.is_active } })}
                      >
                        {user.is_active ? "Disable" : "Enable"}
                      </Button>
                      <Button size="sm" variant="ghost" onClick={() => setResetting(user.username)}>
                        Reset password
                      </Button>
                      <Button size="sm" variant="ghost" disabled={self} onClick={() => setDeleting(user)} aria-label={`Delete ${user.username}`}>
                        Delete
                      </Button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={users.data.count} noun="users" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} />
      </>
    );

  return (
    <>
      <PageHeader
        title="Users"
        actions={
          <Button variant="primary" onClick={() => setCreating(true)}>
            New user
          </Button>
        }
      />
      <div className="toolbar">
        <SearchInput label="Search users" value={state.q} onSearch={(q) => update({ q })} />
      </div>
      {change.error ? <ErrorMessage error={change.error} /> : null}
      {body}
      <CreateUserDialog open={creating} onClose={() => setCreating(false)} />
      <ResetPasswordDialog username={resetting} onClose={() => setResetting(null)} />
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.username ?? ""}?`}
        confirmLabel="Delete user"
        typeToConfirm={deleting?.username}
        onClose={() => setDeleting(null)}
        onConfirm={() => remove.mutateAsync(deleting!.username)}
      >
        <p>Their memberships and personal tokens are deleted too. Disabling keeps the account for later.</p>
      </ConfirmDialog>
    </>
  );
}
