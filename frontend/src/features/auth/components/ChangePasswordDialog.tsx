// The signed-in user changes their own password.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import { Button, Dialog, ErrorMessage, Field } from "@/components/ui";
import { useChangePassword } from "../api/changePassword";

export function ChangePasswordDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const change = useChangePassword();
  const [oldPassword, setOldPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [done, setDone] = useState(false);
  const mismatch = repeat !== "" && repeat !== newPassword;
  const fields = change.error instanceof ApiError ? change.error.fieldErrors() : {};
  const close = () => {
    setOldPassword("");
    setNewPassword("");
    setRepeat("");
    setDone(false);
    change.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mismatch) return;
    change.mutate({ old_password: oldPassword, new_password: newPassword }, { onSuccess: () => setDone(true) });
  };
  return (
    <Dialog open={open} title="Change password" onClose={close}>
      {done ? (
        <div className="stack">
          <div className="alert alert-success" role="status">
            Your password has been changed.
          </div>
          <div className="form-actions">
            <Button variant="primary" onClick={close}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form className="stack" onSubmit={submit}>
          <Field label="Current password" error={fields.old_password}>
            <input type="password" autoComplete="current-password" required value={oldPassword} onChange={(e) => setOldPassword(e.target.value)} />
          </Field>
          <Field label="New password" hint="At least 8 characters, not only digits, not a common password." error={fields.new_password}>
            <input type="password" autoComplete="new-password" required minLength={8} value={newPassword} onChange={(e) => setNewPassword(e.target.value)} />
          </Field>
          <Field label="Repeat the new password" error={mismatch ? "The two new passwords differ." : undefined}>
            <input type="password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} />
          </Field>
          {change.error && Object.keys(fields).length === 0 ? <ErrorMessage error={change.error} /> : null}
          <div className="form-actions">
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" variant="primary" busy={change.isPending} disabled={mismatch}>
              Change password
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
