// The current user's menu in the top bar: profile, change password, personal tokens, sign out.
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router";
import type { User } from "@/api/types";
import { useLogout } from "../api/logout";
import { ChangePasswordDialog } from "./ChangePasswordDialog";

export function UserMenu({ user }: { user: User }) {
  const [open, setOpen] = useState(false);
  const [changingPassword, setChangingPassword] = useState(false);
  const logout = useLogout();
  const navigate = useNavigate();
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: MouseEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        setOpen(false);
        root.current?.querySelector<HTMLButtonElement>(".user-menu-button")?.focus();
      }
    };
    document.addEventListener("mousedown", onPointer);
    document.addEventListener("keydown", onKey);
    root.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
    return () => {
      document.removeEventListener("mousedown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  const onMenuKey = (event: React.KeyboardEvent) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    const items = Array.from(root.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? []);
    const index = items.indexOf(document.activeElement as HTMLElement);
    const next = event.key === "ArrowDown" ? (index + 1) % items.length : (index - 1 + items.length) % items.length;
    items[next]?.focus();
  };

  const signOut = () =>
    logout.mutate(undefined, {
      onSettled: () => navigate("/login", { replace: true }),
    });

  const name = user.display_name || user.username;
  return (
    <div className="user-menu" ref={root}>
      <button type="button" className="user-menu-button" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((value) => !value)}>
        <span className="avatar" aria-hidden="true">
          {name.slice(0, 1).toUpperCase()}
        </span>
        <span className="user-menu-name">{name}</span>
        <span aria-hidden="true">▾</span>
      </button>
      {open ? (
        <div className="menu" role="menu" aria-label="Account" onKeyDown={onMenuKey}>
          <div className="menu-heading">
            Signed in as <strong>{user.username}</strong>
            {user.is_admin ? <span className="muted"> · administrator</span> : null}
          </div>
          <Link role="menuitem" to="/account/profile" onClick={() => setOpen(false)}>
            Profile
          </Link>
          <button
            type="button"
            role="menuitem"
            onClick={() => {
              setOpen(false);
              setChangingPassword(true);
            }}
          >
            Change password
          </button>
          <Link role="menuitem" to="/account/tokens" onClick={() => setOpen(false)}>
            Personal tokens
          </Link>
          <button type="button" role="menuitem" onClick={signOut}>
            Sign out
          </button>
        </div>
      ) : null}
      <ChangePasswordDialog open={changingPassword} onClose={() => setChangingPassword(false)} />
    </div>
  );
}
