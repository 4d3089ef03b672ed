// An administrator sets a new password for someone who lost theirs.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import { Button, Dialog, ErrorMessage, Field } from "@/components/ui";
import { useResetPassword } from "../api/resetPassword";

export function ResetPasswordDialog({ username, onClose }: { username: string | null; onClose: () => void }) {
  const reset = useResetPassword();
  const [password, setPassword] = useState("");
  const fields = reset.error instanceof ApiError ? reset.error.fieldErrors() : {};
  const close = () => {
    setPassword("");
    reset.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    reset.mutate({ username: username!, password });
  };
  return (
    <Dialog open={username !== null} title={`Reset the password of ${username ?? ""}`} onClose={close}>
      {reset.isSuccess ? (
        <div className="stack">
          <div className="alert alert-success" role="status">
            The password of {username} has been reset. Give it to them privately.
          </div>
          <div className="form-actions">
            <Button variant="primary" onClick={close}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form className="stack" onSubmit={submit}>
          <Field label="New password" hint="At least 8 characters." error={fields.password}>
            <input type="password" required autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} data-autofocus />
          </Field>
          {reset.error && Object.keys(fields).length === 0 ? <ErrorMessage error={reset.error} /> : null}
          <div className="form-actions">
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" variant="primary" busy={reset.isPending}>
              Reset password
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
