import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { Pagination } from "./Pagination";

describe("pagination", () => {
  it("describes the page of a very long list and moves on", async () => {
    const onPage = vi.fn();
    render(<Pagination page={2} pageSize={100} count={100000} onPage={onPage} noun="tags" />);
    expect(screen.getByText("101–200 of 100,000 tags")).toBeInTheDocument();
    expect(screen.getByText("Page 2 of 1,000")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Next page" }));
    expect(onPage).toHaveBeenCalledWith(3);
  });

  it("disables both directions on a single page", () => {
    render(<Pagination page={1} pageSize={25} count={3} onPage={() => {}} />);
    expect(screen.getByRole("button", { name: "Previous page" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Next page" })).toBeDisabled();
  });
});
