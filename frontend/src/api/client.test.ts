import { describe, expect, it } from "vitest";
import { stubFetch } from "@/test/utils";
import { ApiError, api, query } from "./client";

/** The ApiError a request was refused with; fails the test when the request succeeds. */
async function refusal(request: Promise<unknown>): Promise<ApiError> {
  try {
    await request;
  } catch (caught) {
    expect(caught).toBeInstanceOf(ApiError);
    return caught as ApiError;
  }
  throw new Error("the request was expected to be refused");
}

describe("the API client", () => {
  it("sends the CSRF cookie back as X-CSRFToken on writes only", async () => {
    document.cookie = "berth_csrftoken=tok%2Ben";
    const calls = stubFetch({ "POST /projects": { status: 201, body: { name: "web" } }, "GET /projects": { body: { count: 0, results: [] } } });
    await api.post("/projects", { name: "web" });
    await api.get("/projects");
    expect(calls[0].headers["X-CSRFToken"]).toBe("tok+en");
    expect(calls[1].headers["X-CSRFToken"]).toBeUndefined();
  });

  it("turns Berth's error format into an ApiError with code, message and field errors", async () => {
    stubFetch({
      "POST /projects": { status: 400, body: { errors: [{ code: "invalid", message: "name: bad name", fields: { name: ["bad name"] } }] } },
    });
    const error = await refusal(api.post("/projects", { name: "Bad" }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.code).toBe("invalid");
    expect(error.message).toBe("name: bad name");
    expect(error.fieldErrors()).toEqual({ name: "bad name" });
  });

  it("explains a server failure that is not JSON", async () => {
    stubFetch({ "GET /health": () => ({ status: 502 }) });
    const error = await refusal(api.get("/health"));
    expect(error.message).toMatch(/server failed \(HTTP 502\)/);
  });

  it("answers undefined for 204 No Content", async () => {
    stubFetch({ "DELETE /projects/web": { status: 204 } });
    await expect(api.delete("/projects/web")).resolves.toBeUndefined();
  });

  it("leaves empty filters out of the query string", () => {
    expect(query({ q: "", page: 2, sort: "-size", tag: undefined })).toBe("?page=2&sort=-size");
    expect(query({})).toBe("");
  });
});
