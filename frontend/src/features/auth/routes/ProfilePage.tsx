// The signed-in user's own profile: display name and e-mail, with the API's reasons beside each field.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import type { User } from "@/api/types";
import { Badge, Button, ErrorMessage, ErrorState, Field, Loading, PageHeader } from "@/components/ui";
import { formatDateTime } from "@/lib/format";
import { useCurrentUser } from "../api/getCurrentUser";
import { useUpdateProfile } from "../api/updateProfile";
import { ChangePasswordDialog } from "../components/ChangePasswordDialog";

function ProfileForm({ user }: { user: User }) {
  const update = useUpdateProfile();
  const [displayName, setDisplayName] = useState(user.display_name);
  const [email, setEmail] = useState(user.email ?? "");
  const [saved, setSaved] = useState(false);
  const fields = update.error instanceof ApiError ? update.error.fieldErrors() : {};
  const changes = {
    ...(displayName !== user.display_name ? { display_name: displayName } : {}),
    ...(email !== (user.email ?? "") ? { email } : {}),
  };
  const changed = Object.keys(changes).length > 0;

  const edit = (set: (value: string) => void) => (event: React.ChangeEvent<HTMLInputElement>) => {
    set(event.target.value);
    setSaved(false);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!changed) return;
    update.mutate(changes, {
      // The API trims and normalises; the form shows what it stored.
      onSuccess: (stored) => {
        setDisplayName(stored.display_name);
        setEmail(stored.email ?? "");
        setSaved(true);
      },
    });
  };
  return (
    // noValidate: the API's own messages are shown beside the fields, the same in every browser.
    <form className="card stack profile-form" onSubmit={submit} noValidate aria-label="Profile">
      <Field label="Display name" hint="Shown in the top bar instead of your username; leave it empty to show your username." error={fields.display_name}>
        <input name="display_name" autoComplete="name" maxLength={255} value={displayName} onChange={edit(setDisplayName)} />
      </Field>
      <Field label="E-mail address" hint="Used by administrators to reach you; no two accounts share one." error={fields.email}>
        <input name="email" type="email" autoComplete="email" value={email} onChange={edit(setEmail)} />
      </Field>
      {update.error && Object.keys(fields).length === 0 ? <ErrorMessage error={update.error} /> : null}
      {saved ? (
        <div className="alert alert-success" role="status">
          Your profile has been saved.
        </div>
      ) : null}
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={update.isPending} disabled={!changed}>
          Save profile
        </Button>
      </div>
    </form>
  );
}

export default function ProfilePage() {
  const user = useCurrentUser();
  const [changingPassword, setChangingPassword] = useState(false);
  if (user.isPending) return <Loading label="Loading your profile…" />;
  if (user.isError) return <ErrorState error={user.error} onRetry={() => user.refetch()} />;
  return (
    <>
      <PageHeader title="Profile" actions={<Button onClick={() => setChangingPassword(true)}>Change password</Button>} />
      <div className="stack profile">
        <dl className="details card">
          <dt>Username</dt>
          <dd>
            {user.data.username} {user.data.is_admin ? <Badge tone="info">Administrator</Badge> : null}
          </dd>
          <dt>Member since</dt>
          <dd>{formatDateTime(user.data.created_at)}</dd>
        </dl>
        <ProfileForm user={user.data} />
      </div>
      <ChangePasswordDialog open={changingPassword} onClose={() => setChangingPassword(false)} />
    </>
  );
}
