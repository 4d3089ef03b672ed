// The top bar's offer to an anonymous visitor: sign in and come back to this page.
import { Link, useLocation } from "react-router";
import { signInPath } from "../useViewer";

export function SignInLink() {
  const location = useLocation();
  return (
    <Link className="btn btn-primary" to={signInPath(`${location.pathname}${location.search}`)}>
      Sign in
    </Link>
  );
}
