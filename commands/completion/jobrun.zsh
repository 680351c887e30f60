#compdef {%.Name%}
# zsh completion for {%.Name%}: its commands and flags, and the job names of
# the stack file (-c, else stack.yml in the current directory). Load it with
#   source <({%.Name%} completion zsh)
# after compinit, or save it as _{%.Name%} in a directory of $fpath.

# _jobrun_jobs lists the jobs of the stack files named on the command line.
_jobrun_jobs() {
	local -a files
	local i
	for ((i = 2; i < CURRENT; i++)); do
		case ${words[i]} in
		({% join .Files "|" %}) files+=(-c "${words[i+1]}") ;;
		esac
	done
	${words[1]} completion jobs "${files[@]}" 2>/dev/null
}

_jobrun() {
	local cur=${words[CURRENT]} prev=${words[CURRENT-1]} cmd= i jobs=
	local -a flags args cmds
	# The command is the first word that is neither a flag nor a flag's value.
	for ((i = 2; i < CURRENT; i++)); do
		case ${words[i]} in
		({% join .ValueNames "|" %}) ((i++)) ;;
		(-*) ;;
		(*) cmd=${words[i]}; break ;;
		esac
	done
	case $prev in
{%- if .Free %}
	({% join .Free "|" %}) return ;; # any value: nothing to offer
{%- end %}
{%- range .Values %}
	({% join .Names "|" %}) {% .Action %}; return ;;
{%- end %}
	esac
	case $cmd in
{%- range .Commands %}
	({% .Name %})
		flags=({% range .Flags %}{% $u := .Usage %}{% range .Names %} {% zdesc . $u %}{% end %}{% end %})
		args=({% join .Words " " %}) jobs={% if .Jobs %}1{% end %} ;;
{%- end %}
	(*)
		flags=({% range .Default.Flags %}{% $u := .Usage %}{% range .Names %} {% zdesc . $u %}{% end %}{% end %})
		jobs=1
		[[ -z $cmd ]] && cmds=({% range .Commands %} {% zdesc .Name .Usage %}{% end %})
		;;
	esac
	if [[ $cur == -* ]]; then
		_describe -t flags 'flag' flags
		return
	fi
	(( $#cmds )) && _describe -t commands 'command' cmds
	(( $#args )) && compadd -- $args
	[[ -n $jobs ]] && compadd -- ${(f)"$(_jobrun_jobs)"}
	return 0
}

if [ "$funcstack[1]" = "_jobrun" ]; then
	_jobrun "$@"
else
	compdef _jobrun {%.Name%}
fi
