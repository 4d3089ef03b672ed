import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderRoutes, stubFetch } from "@/test/utils";
import SignInPage, { safeNext } from "./SignInPage";

describe("signing in", () => {
  it("follows only paths inside Berth after signing in", () => {
    expect(safeNext("/projects/web")).toBe("/projects/web");
    expect(safeNext("//evil.example/")).toBe("/");
    expect(safeNext("https://evil.example/")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });

  it("shows the API's refusal and signs in on the second try", async () => {
    let attempts = 0;
    let signedIn = false;
    const calls = stubFetch({
      "GET /users/current": () => (signedIn ? { body: { username: "dana" } } : { status: 401, body: { errors: [{ code: "unauthorized", message: "no" }] } }),
      "POST /auth/login": () => {
        attempts += 1;
        if (attempts === 1) return { status: 400, body: { errors: [{ code: "invalid_credentials", message: "invalid username or password" }] } };
        signedIn = true;
        return { body: { username: "dana" } };
      },
    });
    const { router } = renderRoutes([{ path: "/login", element: <SignInPage /> }, { path: "/projects", element: <h1>projects</h1> }], "/login?next=%2Fprojects");
    await userEvent.type(await screen.findByLabelText("Username"), "dana");
    await userEvent.type(screen.getByLabelText("Password"), "wrong");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("invalid username or password");
    await userEvent.clear(screen.getByLabelText("Password"));
    await userEvent.type(screen.getByLabelText("Password"), "right");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "projects" })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe("/projects");
    expect(calls.filter((call) => call.method === "POST").map((call) => call.body)).toEqual([
      { username: "dana", password: "wrong" },
      { username: "dana", password: "right" },
    ]);
  });
});
