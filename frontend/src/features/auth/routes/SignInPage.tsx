// Sign in with a username and password; robots and tokens are for scripts, not the browser.
import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { Button, ErrorMessage, Field, Loading } from "@/components/ui";
import { useCurrentUser } from "../api/getCurrentUser";
import { useLogin } from "../api/login";

/** Only paths inside the app are followed after sign-in, never another site. */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function SignInPage() {
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const current = useCurrentUser();
  const login = useLogin();
  const navigate = useNavigate();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");

  if (current.isPending) return <Loading />;
  if (current.isSuccess) return <Navigate to={next} replace />;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    login.mutate({ username, password }, { onSuccess: () => navigate(next, { replace: true }) });
  };
  return (
    <main className="sign-in">
      <form className="sign-in-card stack" onSubmit={submit} aria-labelledby="sign-in-title">
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">⚓</span> Berth
        </div>
        <h1 id="sign-in-title">Sign in</h1>
        <Field label="Username">
          <input name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
        </Field>
        <Field label="Password">
          <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {login.error ? <ErrorMessage error={login.error} /> : null}
        <Button type="submit" variant="primary" busy={login.isPending}>
          Sign in
        </Button>
        <p className="muted small">
          For <code>docker login</code> and scripts, create a personal token after signing in.
        </p>
        <p className="small sign-in-public">
          <Link to="/projects">Browse public projects</Link> without signing in.
        </p>
      </form>
    </main>
  );
}

export default SignInPage;
