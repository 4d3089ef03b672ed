// Asks before anything destructive; the API's refusal (e.g. a project that still holds repositories) is shown in place.
import { useState, type ReactNode } from "react";
import { ApiError } from "@/api/client";
import { Button } from "./Button";
import { Dialog } from "./Dialog";
import { ErrorMessage } from "./States";

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** When set, the person must type this text to confirm (for irreversible deletions). */
  typeToConfirm?: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}

export function ConfirmDialog({ open, title, children, confirmLabel, typeToConfirm, onConfirm, onClose }: ConfirmDialogProps) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const close = () => {
    setTyped("");
    setError(null);
    onClose();
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      setTyped("");
      onClose();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const blocked = typeToConfirm !== undefined && typed !== typeToConfirm;
  return (
    <Dialog
      open={open}
      title={title}
      onClose={close}
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button variant="danger" busy={busy} disabled={blocked} onClick={confirm} data-autofocus={typeToConfirm ? undefined : true}>
            {confirmLabel}
          </Button>
        </>
      }
    >
      <div className="stack">
        {children}
        {typeToConfirm !== undefined ? (
          <label className="field">
            <span className="field-label">
              Type <code>{typeToConfirm}</code> to confirm
            </span>
            <input data-autofocus value={typed} onChange={(event) => setTyped(event.target.value)} autoComplete="off" />
          </label>
        ) : null}
        {error ? <ErrorMessage error={error instanceof ApiError || error instanceof Error ? error : new Error(String(error))} /> : null}
      </div>
    </Dialog>
  );
}
