/**
 * How gotune prints help: `gotune --help` gives one line a command (as git and cargo do), the detail is
 * under `gotune CMD --help`; required options say so, and defaults given in words are shown.
 */
import { type Command, Help, type HelpConfiguration, type Option } from "commander";
import { UserError } from "../util/errors.js";

/** commander's help, with a command's name alone in the list and options marked required or defaulted. */
export const HELP: HelpConfiguration = {
  subcommandTerm: (cmd: Command) => cmd.name(),
  optionDescription(this: Help, option: Option): string {
    let text = Help.prototype.optionDescription.call(this, option);
    // commander shows a default only when it has a value; one in words ("the model's own") is shown too.
    if (option.defaultValue === undefined && option.defaultValueDescription)
      text += ` (default: ${option.defaultValueDescription})`;
    return option.mandatory ? `${text} (required)` : text;
  },
};

/** `gotune help NAME` for a NAME that is no command: one line and exit 1, not the whole help. */
export function checkHelpTopic(args: readonly string[], commands: readonly string[]): void {
  const [first, topic] = args;
  if (first === "help" && topic !== undefined && !commands.includes(topic))
    throw new UserError(`unknown command '${topic}'`, { hint: "gotune --help lists the commands" });
}
