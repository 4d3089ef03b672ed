import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "@/api/client";
import { ConfirmDialog } from "./ConfirmDialog";

describe("the confirmation dialog", () => {
  it("needs the name typed before an irreversible deletion", async () => {
    const onConfirm = vi.fn(async () => {});
    render(
      <ConfirmDialog open title="Delete project web?" confirmLabel="Delete project" typeToConfirm="web" onConfirm={onConfirm} onClose={() => {}}>
        <p>gone</p>
      </ConfirmDialog>,
    );
    const confirm = screen.getByRole("button", { name: "Delete project" });
    expect(confirm).toBeDisabled();
    await userEvent.type(screen.getByLabelText(/Type/), "web");
    await userEvent.click(confirm);
    expect(onConfirm).toHaveBeenCalledOnce();
  });

  it("keeps the dialog open and shows the API's refusal", async () => {
    const onClose = vi.fn();
    const refusal = new ApiError(409, [{ code: "project_not_empty", message: "project web still holds 3 repositories; delete them first" }]);
    render(
      <ConfirmDialog open title="Delete?" confirmLabel="Delete" onConfirm={() => Promise.reject(refusal)} onClose={onClose}>
        <p>sure?</p>
      </ConfirmDialog>,
    );
    await userEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("project web still holds 3 repositories; delete them first");
    expect(onClose).not.toHaveBeenCalled();
  });

  it("closes on Escape", async () => {
    const onClose = vi.fn();
    render(
      <ConfirmDialog open title="Delete?" confirmLabel="Delete" onConfirm={async () => {}} onClose={onClose}>
        <p>sure?</p>
      </ConfirmDialog>,
    );
    await userEvent.keyboard("{Escape}");
    expect(onClose).toHaveBeenCalled();
  });
});
